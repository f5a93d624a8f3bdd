"""The grader end to end on a class of correct, blank, wrong, hostile and broken submissions."""
import json
import subprocess
import sys

import pytest

from conftest import A, bank_params, hostile_and_broken, mistake_student
from grader.course import REPO, assignments
from grader.leaks import leaked, region_lines, visible_text
from points import manual_points, points
from submission_bank import banks

ASSIGNMENTS = assignments()
BANK = banks()


def parts_of(row):
    """'test_rnn_step=3/3; ...' -> {'test_rnn_step': 3.0, ...} (manual parts: None)."""
    out = {}
    for item in row["parts"].split("; "):
        name, score = item.split("=")
        out[name] = None if score.startswith("?") else float(score.split("/")[0])
    return out


def test_every_submission_gets_a_row(graded, class_folder):
    rows, _ = graded
    folders = {(p.parent.name, p.name) for p in class_folder.glob("*/*") if p.is_dir()}
    assert set(rows) == folders


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks(graded, assignment):
    row = graded[0][("correct", assignment)]
    assert (row["status"], row["reason"]) == ("graded", "")
    assert float(row["score"]) == points(assignment)[1]
    assert float(row["max_score"]) == points(assignment)[1] + manual_points(assignment)
    assert float(row["manual_pending"]) == manual_points(assignment)  # written answers wait for a person


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_scores_zero(graded, assignment):
    row = graded[0][("untouched", assignment)]
    assert row["status"] == "graded"
    assert float(row["score"]) == 0
    assert float(row["manual_pending"]) == 0  # an empty written answer is not worth a look


@pytest.mark.parametrize("assignment,name", bank_params(BANK))
def test_each_mistake_loses_exactly_its_part(graded, assignment, name):
    row, mistake = graded[0][(mistake_student(assignment, name), assignment)], BANK[(assignment, name)]
    assert row["status"] == "graded", row
    got = parts_of(row)
    for part, pts in points(assignment)[0].items():
        assert got[part] == (0 if part == mistake.fails else pts), f"{name}: {part}"


@pytest.mark.parametrize("assignment,name", bank_params(BANK))
def test_feedback_names_the_mistake(feedback, assignment, name):
    pages, problems = feedback
    assert not problems
    text = " ".join(visible_text(pages[(mistake_student(assignment, name), assignment)]).split())
    assert BANK[(assignment, name)].says in text  # messages are wrapped: compare with single spaces


EXPECTED = {  # student -> (status, words in the reason, score: "full", "full-<test cell lost>" or "" for none)
    "truncated_json": ("failed", "not a readable notebook", ""),
    # a cell that stops the whole run is skipped and the rest graded again without it
    "dead_kernel": ("flagged", "cell 4 (rnn_step) killed the kernel: graded again without it", "full-test_rnn_step"),
    "ignores_interrupt": ("flagged", "cell 4 (rnn_step) ran past the time limit: graded again", "full-test_rnn_step"),
    "keeps_killing_the_kernel": ("failed", "kernel died", ""),
    "endless_loop": ("flagged", "interrupted", "full"),
    "renamed_file": ("flagged", "renamed", "full"),
    "deleted_test_cell": ("flagged", "the test cell `test_rnn_step` was missing; it was put back at its place", "full"),
    "edited_test_cell": ("flagged", "(the test cell `test_rnn_forward`) had been edited; the original was put back",
                         "full"),
    "unknown_assignment": ("failed", "unknown assignment", ""),
    # flagged by the static check, and the import fails in the sandbox: that part scores 0
    "imports_reference": ("flagged", "rnn_forward: imports the instructor's grader package", "full-test_rnn_forward"),
    "patched_checker": ("flagged", "redefines the notebook's checking helper check_close", "full"),
    "torch_in_numpy_part": ("flagged", "policy: rnn_forward uses torch", "full-test_rnn_forward"),
    "torch_helper_in_numpy_part": ("flagged", "policy: rnn_forward uses torch (through the given torch_rnn_states)",
                                   "full-test_rnn_forward"),
    "hidden_torch_helper_in_numpy_part": ("graded", "", "full-test_rnn_forward"),  # torch is off in that part
    "memory_hog": ("graded", "", "full-test_rnn_step"),  # MemoryError in its own part, nothing else lost
    # the static check misses these; the sandbox and the verdict outside the kernel hold
    "runtime_reference_import": ("graded", "", "full-test_rnn_forward"),  # no grader.reference in the sandbox
    "runtime_patches": ("graded", "", "full-test_rnn_step"),  # patched numpy/check_close: the grader's are intact
    "lying_result": ("graded", "", "full-test_cross_entropy"),  # an object that equals anything is not a number
    "forged_report": ("graded", "", "full-test_rnn_step"),  # a second report in the cell voids the part
    "snoop": ("graded", "", "full"),  # correct answers; what it saw is checked below
    "saboteur": ("graded", "", "full"),  # correct answers; that later kernels are untouched: test_sandbox_isolation
}


def test_expected_outcomes_cover_the_hostile_bank():
    assert set(EXPECTED) == set(hostile_and_broken())


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_hostile_and_broken_submissions(graded, student):
    assignment = hostile_and_broken()[student][0]
    row = graded[0][(student, assignment)]
    status, words, score = EXPECTED[student]
    assert row["status"] == status, row
    assert words in row["reason"], row
    parts, full = points(A)
    expected = "" if score == "" else full - (parts[score[5:]] if score.startswith("full-") else 0)
    assert row["score"] == ("" if expected == "" else f"{expected:g}"), row  # failed: no score, never 0


def test_gradebook_records_flags(graded):
    from nbgrader.api import Gradebook

    rows, workdir = graded
    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}") as gb:
        for student in ("correct", "renamed_file", "dead_kernel", "keeps_killing_the_kernel"):
            notebook = gb.find_submission(A, student).notebooks[0]
            assert notebook.flagged == (rows[(student, A)]["status"] != "graded"), student


def test_feedback_shows_no_hidden_test(feedback):
    pages, _ = feedback
    hidden = {a: region_lines(a, "hidden") for a in ASSIGNMENTS}
    for (student, assignment), page in pages.items():
        text = visible_text(page)
        assert not leaked(hidden.get(assignment, set()), text), student
        assert "hidden_tests" not in text and "hidden.test_" not in text, student


def test_feedback_for_a_failed_submission_says_why(feedback, graded):
    pages, _ = feedback
    assert "kernel died" in pages[("keeps_killing_the_kernel", A)]


def test_cli_help_for_every_command():
    for command in ([], ["release"], ["autograde"], ["feedback"], ["export"], ["report"], ["check"]):
        done = subprocess.run([sys.executable, "-m", "grader", *command, "--help"], cwd=REPO,
                              capture_output=True, text=True)
        assert done.returncode == 0 and "usage:" in done.stdout, command


def test_cli_autograde_and_export(class_folder, tmp_path):
    """The command an instructor types: one student, exit code 0, a CSV with the promised columns."""
    import csv
    import shutil

    one = tmp_path / "one"
    shutil.copytree(class_folder / "correct" / A, one / "correct" / A)
    done = subprocess.run([sys.executable, "-m", "grader", "autograde", str(one), "--workdir", str(tmp_path / "wd"),
                           "--quiet"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "wd" / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["student"] for r in rows] == ["correct"]
    assert {"student", "assignment", "score", "max_score", "status", "reason"} <= set(rows[0])
    done = subprocess.run([sys.executable, "-m", "grader", "export", "--workdir", str(tmp_path / "wd"),
                           "--csv", str(tmp_path / "again.csv")], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "again.csv").read_text() == (tmp_path / "wd" / "grades.csv").read_text()


def test_grading_kernel_limits(tmp_path):
    """The kernel the grader starts runs under the memory, CPU-time and file-size caps it was given."""
    code = ("import resource; from grader.limited_kernel import apply_limits; apply_limits(512, 7, 3); "
            "print(resource.getrlimit(resource.RLIMIT_AS)[0] >> 20, resource.getrlimit(resource.RLIMIT_CPU)[0], "
            "resource.getrlimit(resource.RLIMIT_FSIZE)[0] >> 20, resource.getrlimit(resource.RLIMIT_CORE)[0])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.stdout.split() == ["512", "7", "3", "0"], done.stderr
    from grader.course import install_grading_kernel

    name = install_grading_kernel(tmp_path, memory_mb=1000, cpu_seconds=20)
    spec = json.loads((tmp_path / "jupyter" / "kernels" / name / "kernel.json").read_text())
    assert spec["argv"][1:3] == ["-m", "grader.limited_kernel"] and "1000" in spec["argv"]


def snooped(workdir, student="snoop"):
    """What the snooping submission printed about the kernel it ran in."""
    import nbformat

    nb = nbformat.read(workdir / "autograded" / student / A / f"{A}.ipynb", as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith("SNOOP "):
                    return json.loads(line[len("SNOOP "):])
    raise AssertionError("the snooping cell printed nothing")


def test_sandbox_hides_the_course_the_gradebook_and_other_students(graded):
    rows, workdir = graded
    seen = snooped(workdir)
    for key in ("source notebook", "reference", "hidden tests", "gradebook"):
        assert seen[key] == "FileNotFoundError", (key, seen[key])
    assert seen["submissions"] == []  # the folder of all submissions is an empty one inside
    assert seen["other students (autograded)"] == ["snoop"]  # its own folder only
    assert seen["interfaces"] == ["lo"]  # no network
    assert seen["uid"] == 65534  # nobody
    assert seen["processes"] <= 3  # its own pid namespace
    assert not (REPO / "snooped.txt").exists() and not (workdir / "snooped.txt").exists()  # writes stayed inside
    assert json.loads((workdir / "status.json").read_text())[f"snoop/{A}"]["sandboxed"] is True


def test_without_the_sandbox_the_snoop_sees_everything(class_folder, tmp_path):
    """The control for the test above: the same submission, graded with --sandbox off."""
    import shutil

    from grader.autograde import autograde

    one = tmp_path / "one"
    shutil.copytree(class_folder / "snoop" / A, one / "snoop" / A)
    try:
        rows, _ = autograde(one, tmp_path / "wd", jobs=1, timeout=30, progress=False, sandbox_mode="off")
        seen = snooped(tmp_path / "wd")
        assert seen["reference"] != "FileNotFoundError" and seen["gradebook"] != "FileNotFoundError"
        assert seen["course folder"] == "written" and (REPO / "snooped.txt").exists()
    finally:
        (REPO / "snooped.txt").unlink(missing_ok=True)


def test_regrading_gives_identical_results(class_folder, tmp_path):
    """Grade a few submissions twice into the same working folder: same status, score and parts."""
    import shutil

    from grader.autograde import autograde

    some = tmp_path / "some"
    for student in ("correct", mistake_student(A, "missing_bias"), "runtime_patches", "forged_report"):
        shutil.copytree(class_folder / student / A, some / student / A)
    first, second = (autograde(some, tmp_path / "wd", jobs=2, timeout=30, progress=False)[0] for _ in range(2))
    key = lambda rows: sorted((r["student"], r["status"], r["score"], r["parts"], r["reason"]) for r in rows)  # noqa: E731
    assert key(first) == key(second)
    assert len(first) == 4


def test_sandbox_modes_without_bwrap(monkeypatch):
    """--sandbox on refuses to grade without bubblewrap and says how to get it; auto falls back and says so."""
    from grader import sandbox
    from grader.autograde import choose_sandbox
    from grader.course import CourseError

    sandbox.unavailable_reason.cache_clear()
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    try:
        with pytest.raises(CourseError, match="apt-get install bubblewrap"):
            choose_sandbox("on")
        assert choose_sandbox("auto") == (False, "no sandbox: " + sandbox.unavailable_reason())
        assert choose_sandbox("off") == (False, "no sandbox (--sandbox off)")
    finally:
        sandbox.unavailable_reason.cache_clear()


def test_a_kernel_that_cannot_start_is_retried_then_reported(class_folder, tmp_path):
    """A memory cap too small for Python: the machine's fault, so the reason says so (and no score, not 0)."""
    import shutil

    from grader.autograde import autograde

    one = tmp_path / "one"
    shutil.copytree(class_folder / "correct" / A, one / "correct" / A)
    rows, errors = autograde(one, tmp_path / "wd", jobs=1, timeout=30, progress=False, memory_mb=40)
    assert errors == 0
    assert (rows[0]["status"], rows[0]["score"]) == ("failed", "")
    assert "could not start (tried twice" in rows[0]["reason"], rows[0]
    log = (tmp_path / "wd" / "logs" / f"correct__{A}.log").read_text()
    assert log.count("---- graded again ----") == 1
