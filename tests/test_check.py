"""The student's self-check: passes a correct notebook, names what is left to do otherwise."""
import nbformat

from bank_ch04_recurrent_networks import MISTAKES
from conftest import A  # the self-check is the same code for every assignment
from grader.check import check
from submission_bank import blank, filled


def run_check(tmp_path, nb):
    path = tmp_path / f"{A}.ipynb"
    nbformat.write(nb, path)
    lines = []
    return check(path, out=lines.append), lines


def test_correct_notebook_passes(tmp_path):
    code, lines = run_check(tmp_path, filled(A))
    assert code == 0, lines
    assert sum(line.startswith("PASS") for line in lines) == 4
    assert any(line.startswith("HAND") for line in lines)


def test_untouched_notebook_lists_every_part_to_do(tmp_path):
    code, lines = run_check(tmp_path, blank(A))
    assert code == 1
    assert sum(line.startswith("TODO") for line in lines) == 4
    assert any(line.startswith("EMPTY") for line in lines)


def test_wrong_answer_fails_with_its_message(tmp_path):
    mistake = MISTAKES["ignored_initial_state"]
    code, lines = run_check(tmp_path, filled(A, {mistake.cell: mistake.code}))
    assert code == 1
    failing = [line for line in lines if line.startswith("FAIL")]
    assert len(failing) == 2  # rnn_forward, and the classifier built on it (visible tests use the student's parts)
    assert "rnn_forward" in failing[0] and "expected" in failing[0]


def test_missing_and_broken_files_get_a_clear_error(tmp_path):
    lines = []
    assert check(tmp_path / "nope.ipynb", out=lines.append) == 2 and "does not exist" in lines[0]
    (tmp_path / "bad.ipynb").write_text("{not json")
    assert check(tmp_path / "bad.ipynb", out=lines.append) == 2 and "not a readable notebook" in lines[-1]


def test_check_says_which_part_to_fix_first(tmp_path):
    mistake = MISTAKES["wrong_activation"]  # only rnn_step is wrong; rnn_forward and the classifier call it
    code, lines = run_check(tmp_path, filled(A, {mistake.cell: mistake.code}))
    assert code == 1
    hint = [line for line in lines if line.startswith("fix ")]
    assert hint == [line for line in hint if line.startswith("fix rnn_step first: many_to_one_logits, rnn_forward")]
    assert len(hint) == 1, lines


def test_check_prints_no_library_noise(tmp_path):
    import subprocess
    import sys

    from grader.course import REPO

    path = tmp_path / f"{A}.ipynb"
    nbformat.write(filled(A), path)
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(path)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.strip() == "", done.stderr
def test_accidents_are_warned_about_and_the_work_still_passes(tmp_path):
    """A copied answer cell and a deleted setup cell: one warning each, and every part passes as graded."""
    import copy

    nb = filled(A)
    answer = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "rnn_step")
    first = copy.deepcopy(nb.cells[answer])
    first.source, first.id = MISTAKES["wrong_activation"].code, "firsttry"
    nb.cells.insert(answer, first)
    del nb.cells[1]  # the read-only setup cell
    code, lines = run_check(tmp_path, nb)
    warned = [line for line in lines if line.startswith("WARN")]
    assert any("was a copy of `rnn_step`; the last copy (cell 4) was graded" in line for line in warned), lines
    assert any("the read-only cell `setup` was missing" in line for line in warned), lines
    assert code == 0 and sum(line.startswith("PASS") for line in lines) == 4, lines


def test_metadata_lost_is_warned_about(tmp_path):
    nb = filled(A)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    code, lines = run_check(tmp_path, nb)
    assert any(line.startswith("WARN") and "lost their nbgrader metadata" in line for line in lines), lines
    assert code == 0 and sum(line.startswith("PASS") for line in lines) == 4, lines


def test_a_notebook_of_nothing_gets_a_plain_error(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    code, lines = run_check(tmp_path, nb)
    assert code == 2 and "none of its cells belong to the exercise" in lines[-1], lines
