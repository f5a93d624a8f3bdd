"""Write the grades CSV from the gradebook (scores, manual grades included) and the grading statuses."""
import csv
import json
from pathlib import Path

from grader.course import nbgrader_config

COLUMNS = ["student", "assignment", "score", "max_score", "status", "reason", "manual_pending", "parts"]


def _scores(gb, assignment, student):
    """(score, max_score, points awaiting manual grading, per-part summary) from nbgrader's gradebook."""
    submission = gb.find_submission(assignment, student)
    pending, parts = 0.0, []
    for notebook in submission.notebooks:
        for grade in sorted(notebook.grades, key=lambda g: g.cell_id):
            if grade.needs_manual_grade:
                pending += grade.max_score
                parts.append(f"{grade.name}=?/{grade.max_score:g}")
            else:
                parts.append(f"{grade.name}={grade.score:g}/{grade.max_score:g}")
    return submission.score, submission.max_score, pending, "; ".join(parts)


def export_grades(workdir, csv_path=None):
    """Rewrite ``grades.csv`` (or ``csv_path``); a ``failed`` submission gets no score, never a plain 0."""
    from nbgrader.api import Gradebook, MissingEntry

    workdir = Path(workdir).resolve()
    status_file = workdir / "status.json"
    status = json.loads(status_file.read_text()) if status_file.exists() else {}
    db_url = nbgrader_config(workdir).CourseDirectory.db_url
    rows = []
    with Gradebook(db_url) as gb:
        for key in sorted(status):
            student, assignment = key.split("/", 1)
            entry = status[key]
            row = {"student": student, "assignment": assignment, "status": entry["status"],
                   "reason": entry["reason"], "score": "", "max_score": "", "manual_pending": "", "parts": ""}
            try:
                max_score = gb.find_assignment(assignment).max_score
                row["max_score"] = f"{max_score:g}"
                if entry["status"] != "failed":
                    score, max_score, pending, parts = _scores(gb, assignment, student)
                    row.update(score=f"{score:g}", manual_pending=f"{pending:g}", parts=parts)
                _flag(gb, assignment, student, entry["status"] != "graded")
            except MissingEntry:
                pass  # unknown assignment or never reached nbgrader: the status says why
            rows.append(row)
    path = Path(csv_path) if csv_path else workdir / "grades.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def _flag(gb, assignment, student, flagged):
    """Mirror our status in nbgrader's own flag, so the formgrader shows it too."""
    submission = gb.find_submission(assignment, student)
    for notebook in submission.notebooks:
        notebook.flagged = flagged
    gb.db.commit()
