"""Honest accidents cost nothing: the bank of tests/accident_bank.py, graded in one class run (two workers).

On every chapter: the four accidents measured in issue 14 (a copied answer cell, the setup cell
deleted, the test cells deleted, all nbgrader metadata gone), because their repair depends on each
notebook's own cells: which cell is copied, which read-only and test cells there are and what
follows them (chapter 3's `test_train` comes right after the read-only `baseline`), which texts and
functions the matching finds. On one chapter each (1, 4 or 6, whose notebooks grade fastest):
accidents handled the same way whatever the notebook holds (an editor's rewrite of the file:
JupyterLab, Notebook 7, VS Code; repeated cell ids; pasted outputs) or touching one cell of a kind
every notebook has (a type change, a move, a split or merged cell, a copied test cell or written
answer, an answer in a new cell). That keeps the run at 40 notebooks.
"""
import json

import nbformat
import pytest

from accident_bank import FAILS, FLAGS, ON_ONE_CHAPTER, accidents, release, student, write
from conftest import A, selected_params
from grader.repair import nbgrader_meta, repair
from points import manual_points, points

ACCIDENTS = accidents()
CELL_SECONDS = 120
BY_NAME = {f.__name__: f for f in ACCIDENTS.values()}
# The default run grades the every-chapter accidents on chapter 4 (and the others where they run);
# `-m slow` grades them on every other chapter too.
GRADED = [pytest.param(n, a, marks=() if a == A or ACCIDENTS[(n, a)] in ON_ONE_CHAPTER else pytest.mark.slow)
          for n, a in sorted(ACCIDENTS)]


@pytest.fixture(scope="module")
def accident_rows(tmp_path_factory, request):
    """Grade every selected accident once, with two workers, as an instructor would: rows by (name, assignment)."""
    from grader.autograde import autograde

    root = tmp_path_factory.mktemp("accidents")
    wanted = selected_params(request.session, ("test_accident_costs_nothing",), ("name", "assignment"))
    wanted.add(("copied_answer_cell", A))  # the feedback test reads this one
    for (name, assignment), make in ACCIDENTS.items():
        if (name, assignment) in wanted:
            write(root, name, assignment, make(assignment)[0])
    workdir = tmp_path_factory.mktemp("accident_workdir")
    # no accident hangs: a generous per-cell limit keeps a busy machine from turning slowness into a flag
    rows, errors = autograde(root, workdir, jobs=2, timeout=CELL_SECONDS, progress=False)
    assert errors == 0
    by_student = {(row["student"], row["assignment"]): row for row in rows}
    table = {key: by_student[(student(*key), key[1])] for key in ACCIDENTS if key in wanted}
    status = json.loads((workdir / "status.json").read_text())
    seconds = {key: status[f"{student(*key)}/{key[1]}"].get("seconds", 0.0) for key in table}
    print(f"\naccident bank: {len(table)} notebooks, {sum(seconds.values()):.0f} s of grading in the workers")
    print("case, chapter, status, score, seconds:")
    for (name, assignment), row in sorted(table.items()):
        print(f"  {name:32} {assignment[:4]} {row['status']:7} {row['score'] or '-'}/{row['max_score']}"
              f" {seconds[(name, assignment)]:5.1f}")
    return table, workdir


@pytest.mark.parametrize("name,assignment", GRADED)
def test_accident_costs_nothing(accident_rows, name, assignment):
    row = accident_rows[0][(name, assignment)]
    make = BY_NAME[name]
    words = make(assignment)[1]
    assert words in row["reason"], row
    if make in FAILS:
        assert (row["status"], row["score"]) == ("failed", ""), row
        return
    assert row["status"] == ("flagged" if make in FLAGS else "graded"), row
    assert float(row["score"]) == points(assignment)[1], row  # every autograded part: full marks
    assert float(row["manual_pending"]) == manual_points(assignment), row  # the written answer waits for a person


def test_no_reason_is_an_exception_text(accident_rows):
    for row in accident_rows[0].values():
        assert "Error" not in row["reason"] and "Traceback" not in row["reason"], row
        assert "nbgrader.converters" not in row["reason"], row


def test_feedback_says_what_was_repaired(accident_rows):
    from grader.feedback import generate_feedback
    from grader.leaks import visible_text

    _, workdir = accident_rows
    key = ("copied_answer_cell", A)
    written, problems = generate_feedback(workdir, [student(*key)])
    assert not problems
    text = " ".join(visible_text(written[0].read_text()).split())
    assert "the grader repaired this notebook" in text
    assert BY_NAME[key[0]](key[1])[1].replace("`", "") in text.replace("`", "")


def release_names():
    from grader.course import assignments

    return assignments()


@pytest.mark.parametrize("name,assignment", sorted(k for k, f in ACCIDENTS.items() if f not in FAILS))
def test_repaired_notebook_has_every_graded_cell_once_in_order(name, assignment):
    """What nbgrader receives: each graded and read-only cell of the release exactly once, in the release's order."""
    made = ACCIDENTS[(name, assignment)](assignment)[0]
    nb = nbformat.reads(made, as_version=4) if isinstance(made, str) else made
    rel = release(assignment)
    fixed = repair(nb, rel)
    ids = [nbgrader_meta(c).get("grade_id") for c in fixed.notebook.cells if nbgrader_meta(c)]
    wanted = [nbgrader_meta(c)["grade_id"] for c in rel.cells if nbgrader_meta(c).get("grade_id")]
    assert ids == [i for i in wanted if i in ids], ids  # in order, no copies
    assert set(wanted) - set(ids) <= {nbgrader_meta(c)["grade_id"] for c in rel.cells
                                      if nbgrader_meta(c).get("solution") and not nbgrader_meta(c).get("grade")}
    by_id = {nbgrader_meta(c)["grade_id"]: c for c in rel.cells if nbgrader_meta(c).get("grade_id")}
    for cell in fixed.notebook.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id:
            assert nbgrader_meta(cell) == nbgrader_meta(by_id[grade_id]) and cell.cell_type == by_id[grade_id].cell_type
    nbformat.validate(fixed.notebook)
    assert len(fixed.numbers) == len(fixed.notebook.cells)


def test_the_untouched_release_needs_no_repair():
    for assignment in release_names():
        fixed = repair(release(assignment), release(assignment))
        assert fixed.matched and fixed.notes == [] and fixed.numbers == list(range(1, len(fixed.numbers) + 1))
        assert json.loads(nbformat.writes(fixed.notebook))["cells"] == json.loads(nbformat.writes(
            release(assignment)))["cells"]


def test_failure_reasons_are_plain_words():
    """What nbgrader or the kernel said stays in the log; the reason says what happened and what to do."""
    from grader.autograde import failure_reason

    library = ("Traceback (most recent call last):\n  ...\n"
               "nbgrader.nbgraderformat.common.SchemaTooOldError: Outdated schema version: 0 (expected 3)\n"
               "nbgrader.converters.base.NbGraderException: Please see the the above traceback")
    cases = [{"log": library, "error": library},
             {"log": "", "error": "KeyError: 'baseline'\nnbgrader.converters.base.NbGraderException: see above"},
             {"log": "", "error": "RuntimeError('boom')"},
             {"log": "", "error": "OSError: [Errno 12] Cannot allocate memory", "no_cell_ran": True}]
    for outcome in cases:
        reason = failure_reason(outcome, 30, {"memory_mb": 4096, "cpu_seconds": 600})
        assert not any(word in reason for word in ("Error", "Exception", "Traceback", "nbgrader.", "boom")), reason
        assert "grade it again" in reason or "hand that in" in reason, reason


def test_unreadable_notebook_reason_is_plain_and_the_log_gets_the_error(tmp_path):
    from grader.submissions import Submission, precheck

    assignment = release_names()[0]
    folder = tmp_path / "student" / assignment
    folder.mkdir(parents=True)
    (folder / f"{assignment}.ipynb").write_text(nbformat.writes(release(assignment))[:500])
    sub = precheck(Submission("student", assignment, folder))
    assert sub.fatal.startswith("not a readable notebook") and "is not complete JSON" in sub.fatal, sub.fatal
    assert "Error" not in sub.fatal and "Traceback" in sub.detail


def test_skipped_cells_are_named_in_the_students_numbering():
    """A cell that stops the run is named by its number in the submission, not in the repaired notebook."""
    from grader.submissions import Submission

    sub = Submission("s", "a", None, repairs=["the read-only cell `setup` was missing; ..."],
                     numbers=[1, None, 2, 3])
    assert [sub.cell_words(i) for i in (1, 2, 3, 4)] == ["cell 1", "a cell put back from the exercise", "cell 2",
                                                          "cell 3"]
    assert Submission("s", "a", None, numbers=[1, 2]).cell_words(1) == "cell 2"  # no repair: no note cell


def test_repair_is_deterministic():
    """The same submission is repaired to the same notebook (cell ids included), so re-grading changes nothing."""
    for name in ("deleted_setup", "copied_answer_cell", "saved_by_vscode"):
        assignment = release_names()[0]
        made = BY_NAME[name](assignment)[0]
        twice = [nbformat.writes(repair(nbformat.reads(made, as_version=4) if isinstance(made, str) else made,
                                        release(assignment)).notebook) for _ in range(2)]
        assert twice[0] == twice[1], name
