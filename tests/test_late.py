"""Late work: due dates in the gradebook, timestamp.txt from the exchange, the penalty in grades.csv."""
import csv
import subprocess
import sys

import nbformat
import pytest

from grader.course import REPO, CourseError
from grader.late import parse_duedates, parse_penalty, penalty
from submission_bank import filled

A = "ch04_recurrent_networks"
DAY = 86400


def test_penalty_rules():
    per_day = parse_penalty("10%/day")
    assert penalty(per_day, 11, 0) == 0
    assert penalty(per_day, 11, 1) == pytest.approx(1.1)           # any part of a day counts as a day
    assert penalty(per_day, 11, 2 * DAY + 3600) == pytest.approx(3.3)
    assert penalty(per_day, 11, 30 * DAY) == 11                      # never more than the score
    assert penalty(parse_penalty("zero"), 7, 5) == 7
    assert penalty(parse_penalty("none"), 7, 5 * DAY) == 0
    for bad in ("10%", "ten%/day", "0%/day", "150%/day"):
        with pytest.raises(CourseError, match="late-penalty"):
            parse_penalty(bad)


def test_duedates_per_assignment_and_for_all():
    dates = parse_duedates(["2026-12-15 09:00:00 Z", f"{A}=2026-12-08 17:00:00 +01:00"], [A, "ch01_naive_bayes"])
    assert dates[A].isoformat().startswith("2026-12-08T16:00")     # stored in UTC, as nbgrader does
    assert dates["ch01_naive_bayes"].isoformat().startswith("2026-12-15T09:00")
    with pytest.raises(CourseError, match="no assignment 'ch99'"):
        parse_duedates(["ch99=2026-12-08"], [A])
    with pytest.raises(CourseError, match="not a date"):
        parse_duedates([f"{A}=next tuesday"], [A])
    with pytest.raises(CourseError, match="no time zone"):
        parse_duedates([f"{A}=2026-12-08 17:00"], [A])
    for spelling in ("2026-12-08 17:00:00 +01:00", "2026-12-08T17:00+0100", "2026-12-08 16:00 UTC", "2026-12-08 16:00Z"):
        assert parse_duedates([spelling], [A])[A].isoformat() == "2026-12-08T16:00:00", spelling


def test_late_submission_loses_its_penalty_in_grades_csv(tmp_path):
    subs = tmp_path / "submitted"
    for student, stamp in (("on_time", "2026-12-08 15:59:00.000000 UTC"), ("late", "2026-12-10 17:00:00.000000 UTC")):
        folder = subs / student / A
        folder.mkdir(parents=True)
        nbformat.write(filled(A), folder / f"{A}.ipynb")
        (folder / "timestamp.txt").write_text(stamp)
    done = subprocess.run([sys.executable, "-m", "grader", "autograde", str(subs), "--workdir", str(tmp_path / "wd"),
                           "--quiet", "--jobs", "2", "--duedate", f"{A}=2026-12-08 17:00:00 +01:00",
                           "--late-penalty", "10%/day"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "wd" / "grades.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert rows["on_time"]["late_penalty"] == "0" and rows["on_time"]["hours_late"] == "0.00"
    earned = float(rows["on_time"]["score"])
    assert rows["late"]["hours_late"] == "49.00"                     # 2 days and 1 hour: three started days
    assert float(rows["late"]["late_penalty"]) == pytest.approx(0.3 * earned)
    assert float(rows["late"]["score"]) == pytest.approx(0.7 * earned)
