"""Grades for a learning-management system: Canvas's and Moodle's grade-import CSV files.

The course knows students by the folder names of their submissions; the LMS knows them by
its own ids. A roster CSV maps one to the other: a ``student`` column (the course's id) and
whatever the LMS needs (Canvas: ``name``, ``canvas_id``, ``sis_user_id``, ``sis_login_id``,
``section``; Moodle: the identity column chosen with ``--moodle-id``, ``email`` by default).

A failed submission is left blank (never 0) and listed, with its reason, in a problems file
beside the export; so are roster students with no submission and submissions whose student is
not on the roster (their grades are not in the file: nothing is uploaded for an unknown person).
"""
import csv
from pathlib import Path

from grader.course import CourseError

CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
ROSTER_TO_CANVAS = {"Student": "name", "ID": "canvas_id", "SIS User ID": "sis_user_id",
                    "SIS Login ID": "sis_login_id", "Section": "section"}
MOODLE_IDS = {"email": "Email address", "idnumber": "ID number", "username": "Username"}


def read_roster(path):
    """The roster as a list of dicts (file order); a clear error when it cannot be used."""
    path = Path(path)
    if not path.exists():
        raise CourseError(f"no roster at {path}: a CSV with a 'student' column and the LMS's ids")
    with open(path, newline="", encoding="utf-8-sig") as f:
        roster = list(csv.DictReader(f))
    if not roster or "student" not in roster[0]:
        raise CourseError(f"{path}: the roster needs a header row with a 'student' column (the course's ids)")
    seen = set()
    for line, entry in enumerate(roster, start=2):
        if entry["student"] in seen:
            raise CourseError(f"{path}, line {line}: student {entry['student']!r} is listed twice")
        seen.add(entry["student"])
    return roster


def read_titles(path):
    """Optional ``assignment,title,lms_id`` CSV: how each assignment is named (and numbered) in the LMS."""
    if path is None:
        return {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        return {r["assignment"]: r for r in csv.DictReader(f)}


def _grades(rows):
    """(student, assignment) -> row, and the assignments in order with their points possible."""
    by_key = {(r["student"], r["assignment"]): r for r in rows}
    points = {}
    for r in rows:
        if r["max_score"]:
            points[r["assignment"]] = r["max_score"]
    return by_key, points


def problems(rows, roster):
    """Lines that say what the export leaves out or blank, and why."""
    on_roster = {e["student"] for e in roster}
    submitted = {r["student"] for r in rows}
    out = []
    for r in rows:
        if r["student"] not in on_roster:
            out.append(f"{r['student']}/{r['assignment']}: not on the roster, so not exported "
                       f"(score {r['score'] or 'none'})")
        elif r["status"] == "failed":
            out.append(f"{r['student']}/{r['assignment']}: left blank, the submission could not be graded: {r['reason']}")
    out += [f"{s}: on the roster but no submission at all" for s in sorted(on_roster - submitted)]
    return out


def canvas_rows(rows, roster, titles=None):
    """Canvas's gradebook import: student columns, one 'Title (id)' column per assignment, a Points Possible row."""
    titles = titles or {}
    by_key, points = _grades(rows)
    assignments = sorted(points)
    headers = []
    for a in assignments:
        t = titles.get(a, {})
        title = t.get("title") or a
        headers.append(f"{title} ({t['lms_id']})" if t.get("lms_id") else title)
    table = [CANVAS_STUDENT_COLUMNS + headers,
             ["Points Possible", "", "", "", ""] + [points[a] for a in assignments]]
    for entry in roster:
        line = [entry.get(ROSTER_TO_CANVAS[c], "") for c in CANVAS_STUDENT_COLUMNS]
        for a in assignments:
            row = by_key.get((entry["student"], a))
            line.append(row["score"] if row and row["status"] != "failed" else "")
        table.append(line)
    return table


def moodle_rows(rows, roster, identity="email", titles=None):
    """Moodle's CSV grade import: an identity column, then a grade and a feedback column per assignment."""
    if identity not in MOODLE_IDS:
        raise CourseError(f"--moodle-id must be one of {', '.join(MOODLE_IDS)}, not {identity!r}")
    titles = titles or {}
    by_key, points = _grades(rows)
    assignments = sorted(points)
    header = [MOODLE_IDS[identity]]
    for a in assignments:
        title = titles.get(a, {}).get("title") or a
        header += [title, f"{title} feedback"]
    table = [header]
    for entry in roster:
        if not entry.get(identity):
            raise CourseError(f"roster: student {entry['student']!r} has no {identity!r} for Moodle")
        line = [entry[identity]]
        for a in assignments:
            row = by_key.get((entry["student"], a))
            if row is None:
                line += ["", "no submission"]
            elif row["status"] == "failed":
                line += ["", f"could not be graded: {row['reason']}"]
            else:
                note = f"{row['score']} of {row['max_score']} points"
                if row.get("manual_pending") not in ("", "0", None):
                    note += f"; {row['manual_pending']} points still to be graded by hand"
                line += [row["score"], note]
        table.append(line)
    return table


def write_lms(rows, fmt, roster_path, out, identity="email", titles_path=None):
    """Write the LMS file and, beside it, ``<name>.problems.txt``; return (path, problem lines)."""
    roster = read_roster(roster_path)
    titles = read_titles(titles_path)
    table = canvas_rows(rows, roster, titles) if fmt == "canvas" else moodle_rows(rows, roster, identity, titles)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(table)
    lines = problems(rows, roster)
    out.with_suffix(".problems.txt").write_text("".join(line + "\n" for line in lines) or "nothing left out\n")
    return out, lines
