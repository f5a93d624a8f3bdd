"""Write the grades CSV from the gradebook (scores, manual grades included) and the grading statuses."""
import csv
import functools
from pathlib import Path

from grader.course import SOLUTIONS, nbgrader_config, notebook_name
from grader.status import read_status

COLUMNS = ["student", "assignment", "score", "max_score", "status", "reason", "manual_pending", "parts",
           "late_penalty", "hours_late"]


@functools.lru_cache(maxsize=None)
def cell_order(assignment):
    """grade_id -> position in the source notebook, so that parts are listed in the same order every time."""
    import nbformat

    nb = nbformat.read(SOLUTIONS / assignment / notebook_name(assignment), as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    return {grade_id: i for i, grade_id in enumerate(ids) if grade_id}


def _scores(gb, assignment, student):
    """(score after any late penalty, max_score, points awaiting manual grading, per-part summary,
    late penalty, hours late) from nbgrader's gradebook."""
    submission = gb.find_submission(assignment, student)
    pending, parts = 0.0, []
    late_penalty = sum(n.late_submission_penalty or 0.0 for n in submission.notebooks)
    order = cell_order(assignment)
    for notebook in submission.notebooks:
        for grade in sorted(notebook.grades, key=lambda g: (order.get(g.name, len(order)), g.name)):
            if grade.needs_manual_grade:
                pending += grade.max_score
                parts.append(f"{grade.name}=?/{grade.max_score:g}")
            else:
                parts.append(f"{grade.name}={grade.score:g}/{grade.max_score:g}")
    return (submission.score - late_penalty, submission.max_score, pending, "; ".join(parts), late_penalty,
            submission.total_seconds_late / 3600)


def export_grades(workdir, csv_path=None):
    """Rewrite ``grades.csv`` (or ``csv_path``); a ``failed`` submission gets no score, never a plain 0."""
    from nbgrader.api import Gradebook, MissingEntry

    workdir = Path(workdir).resolve()
    status = read_status(workdir)
    db_url = nbgrader_config(workdir).CourseDirectory.db_url
    rows = []
    with Gradebook(db_url) as gb:
        for key in sorted(status):
            student, assignment = key.split("/", 1)
            entry = status[key]
            row = {"student": student, "assignment": assignment, "status": entry["status"],
                   "reason": entry["reason"], "score": "", "max_score": "", "manual_pending": "", "parts": "",
                   "late_penalty": "", "hours_late": ""}
            try:
                max_score = gb.find_assignment(assignment).max_score
                row["max_score"] = f"{max_score:g}"
                if entry["status"] != "failed":
                    score, max_score, pending, parts, penalty, hours = _scores(gb, assignment, student)
                    row.update(score=f"{score:g}", manual_pending=f"{pending:g}", parts=parts,
                               late_penalty=f"{penalty:g}", hours_late=f"{hours:.2f}")
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
