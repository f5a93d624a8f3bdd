"""Canvas and Moodle grade-import files, read back the way each LMS documents its format."""
import csv
import subprocess
import sys

import pytest

from grader.course import REPO, CourseError
from grader.lms import canvas_rows, moodle_rows, problems, write_lms

ROWS = [
    {"student": "ada", "assignment": "ch04_recurrent_networks", "score": "11", "max_score": "13",
     "status": "graded", "reason": "", "manual_pending": "2", "parts": ""},
    {"student": "bob", "assignment": "ch04_recurrent_networks", "score": "", "max_score": "13",
     "status": "failed", "reason": "the notebook is not valid JSON", "manual_pending": "", "parts": ""},
    {"student": "ada", "assignment": "ch01_naive_bayes", "score": "7", "max_score": "13",
     "status": "flagged", "reason": "deleted cells put back", "manual_pending": "0", "parts": ""},
    {"student": "zed", "assignment": "ch01_naive_bayes", "score": "5", "max_score": "13",
     "status": "graded", "reason": "", "manual_pending": "0", "parts": ""},
]
ROSTER = "student,name,canvas_id,sis_user_id,sis_login_id,section,email\n" \
         "ada,\"Lovelace, Ada\",101,S1,ada1,A,ada@uni.example\n" \
         "bob,\"Builder, Bob\",102,S2,bob2,B,bob@uni.example\n" \
         "cat,\"Cat, Kit\",103,S3,cat3,A,cat@uni.example\n"


@pytest.fixture
def roster(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER)
    return path


def read(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_canvas_file_has_canvas_columns_points_row_and_blanks_for_failed(roster, tmp_path):
    titles = tmp_path / "titles.csv"
    titles.write_text("assignment,title,lms_id\nch04_recurrent_networks,Recurrent networks,5501\n")
    path, notes = write_lms(ROWS, "canvas", roster, tmp_path / "canvas.csv", titles_path=titles)
    table = read(path)
    header = table[0]
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert header[5:] == ["ch01_naive_bayes", "Recurrent networks (5501)"]
    assert table[1][0] == "Points Possible" and table[1][5:] == ["13", "13"]
    students = {r[1]: dict(zip(header, r)) for r in table[2:]}
    assert set(students) == {"101", "102", "103"}  # every roster student, in roster order
    assert students["101"]["Student"] == "Lovelace, Ada" and students["101"]["Section"] == "A"
    assert students["101"]["Recurrent networks (5501)"] == "11"
    assert students["102"]["Recurrent networks (5501)"] == ""  # failed: blank, never 0
    assert students["103"]["ch01_naive_bayes"] == ""
    assert any("bob/ch04" in n and "not valid JSON" in n for n in notes)
    assert any(n.startswith("zed/") and "not on the roster" in n for n in notes)
    assert any(n.startswith("cat:") and "no submission" in n for n in notes)
    assert path.with_suffix(".problems.txt").read_text().count("\n") == len(notes)


def test_moodle_file_has_identity_grade_and_feedback_columns(roster, tmp_path):
    path, _ = write_lms(ROWS, "moodle", roster, tmp_path / "moodle.csv")
    table = read(path)
    assert table[0] == ["Email address", "ch01_naive_bayes", "ch01_naive_bayes feedback",
                        "ch04_recurrent_networks", "ch04_recurrent_networks feedback"]
    by_email = {r[0]: dict(zip(table[0], r)) for r in table[1:]}
    assert by_email["ada@uni.example"]["ch04_recurrent_networks"] == "11"
    assert "2 points still to be graded by hand" in by_email["ada@uni.example"]["ch04_recurrent_networks feedback"]
    assert by_email["bob@uni.example"]["ch04_recurrent_networks"] == ""
    assert "could not be graded" in by_email["bob@uni.example"]["ch04_recurrent_networks feedback"]
    assert by_email["cat@uni.example"]["ch01_naive_bayes feedback"] == "no submission"


def test_roster_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\n1,x\n")
    with pytest.raises(CourseError, match="'student' column"):
        write_lms(ROWS, "canvas", bad, tmp_path / "x.csv")
    twice = tmp_path / "twice.csv"
    twice.write_text("student,email\nada,a@x\nada,b@x\n")
    with pytest.raises(CourseError, match="line 3.*listed twice"):
        write_lms(ROWS, "moodle", twice, tmp_path / "x.csv")
    no_email = tmp_path / "no_email.csv"
    no_email.write_text("student,email\nada,\n")
    with pytest.raises(CourseError, match="no 'email'"):
        moodle_rows(ROWS, [{"student": "ada", "email": ""}])
    with pytest.raises(CourseError, match="no roster"):
        write_lms(ROWS, "canvas", tmp_path / "missing.csv", tmp_path / "x.csv")


def test_pure_functions_agree_with_the_files(roster):
    from grader.lms import read_roster

    entries = read_roster(roster)
    assert len(canvas_rows(ROWS, entries)) == 2 + len(entries)
    assert len(moodle_rows(ROWS, entries, identity="email")) == 1 + len(entries)
    assert len(problems(ROWS, entries)) == 3


def test_cli_exports_canvas_from_a_graded_class(graded, tmp_path):
    rows, workdir = graded
    students = sorted({s for s, _ in rows})
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name,canvas_id,sis_user_id,sis_login_id,section\n"
                      + "".join(f"{s},{s},{i},,,\n" for i, s in enumerate(students)))
    out = tmp_path / "canvas.csv"
    done = subprocess.run([sys.executable, "-m", "grader", "export", "--workdir", str(workdir), "--csv",
                           str(tmp_path / "g.csv"), "--format", "canvas", "--roster", str(roster), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    table = read(out)
    index = {name: i for i, name in enumerate(table[0])}
    for line in table[2:]:
        student = line[0]
        for assignment in {a for s, a in rows if s == student}:
            row = rows[(student, assignment)]
            if assignment in index:
                expected = "" if row["status"] == "failed" else row["score"]
                assert line[index[assignment]] == expected, (student, assignment)
    done = subprocess.run([sys.executable, "-m", "grader", "export", "--workdir", str(workdir), "--csv",
                           str(tmp_path / "g.csv"), "--format", "moodle"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and "--roster" in done.stderr
