"""Two chapter 4 submissions (one right, one with a known mistake) and the command that grades them.

Shared by the cluster tests that compare an engine's ``grades.csv`` with the local default's.
"""
import csv
import io
import os
import subprocess
import sys

from conftest import A, mistake_student, write_submission
from grader.course import REPO
from submission_bank import banks, filled


def write_two(root):
    """``root``/correct and ``root``/<the first bank mistake of chapter 4>; returns the mistaken student's id."""
    name, mistake = next((n, m) for (a, n), m in banks().items() if a == A)
    write_submission(root, "correct", A, f"{A}.ipynb", filled(A))
    student = mistake_student(A, name)
    write_submission(root, student, A, f"{A}.ipynb", filled(A, {mistake.cell: mistake.code}))
    return student


def autograde(submissions, workdir, *extra, env=None, cwd=REPO, timeout=900, check=True):
    """Run ``python -m grader autograde`` (from ``cwd``, the course importable from anywhere); its CompletedProcess."""
    env = dict(env or os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "grader", "autograde", str(submissions), "--quiet",
                           "--workdir", str(workdir), *map(str, extra)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done


def check_two(grades, mistaken):
    """Both graded, and the mistake costs points: what makes an equal grades.csv mean something."""
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO(grades))}
    assert [rows[s]["status"] for s in ("correct", mistaken)] == ["graded", "graded"], rows
    assert float(rows[mistaken]["score"]) < float(rows["correct"]["score"]), rows


_graded = []  # the one local grading of a test run, shared by the modules that compare with it


def graded_locally(tmp_path_factory):
    """(submissions folder, the mistaken student, their grades.csv from ``--jobs 1``), made once per run."""
    if not _graded:
        root = tmp_path_factory.mktemp("two")
        mistaken = write_two(root / "submitted")
        autograde(root / "submitted", root / "local", "--jobs", 1)
        grades = (root / "local" / "grades.csv").read_text()
        check_two(grades, mistaken)
        _graded.append((root / "submitted", mistaken, grades))
    return _graded[0]


def stop(processes):
    """Terminate the cluster's processes (the last started first), killing any that do not go within 30 s."""
    for process in reversed(processes):
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
