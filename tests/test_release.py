"""exercises/ is exactly a fresh release of solutions/, and gives nothing away."""
import json
import re
import subprocess
import sys

import nbformat
import pytest

from grader import datasets
from grader.course import EXERCISES, REPO, assignments, notebook_name
from grader.release import ReleaseError, release
from grader.leaks import leaked, region_lines
from submission_bank import load

ASSIGNMENTS = assignments()


def test_there_is_an_assignment():
    assert "ch04_recurrent_networks" in ASSIGNMENTS


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    release(out=out, workdir=tmp_path_factory.mktemp("release_workdir"))
    return out


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_exercises_equal_a_fresh_release(fresh_release, assignment):
    name = notebook_name(assignment)
    committed = json.loads((EXERCISES / assignment / name).read_text())
    fresh = json.loads((fresh_release / assignment / name).read_text())
    assert committed == fresh, f"exercises/{assignment} is stale: run `python -m grader release` and commit it"
    assert sorted(p.name for p in (EXERCISES / assignment).iterdir()) == \
        sorted(p.name for p in (fresh_release / assignment).iterdir())
    for path in (fresh_release / assignment).iterdir():  # the data files that travel with the notebook
        if path.name != name:
            assert (EXERCISES / assignment / path.name).read_bytes() == path.read_bytes(), \
                f"exercises/{assignment}/{path.name} is stale: run `python -m grader release` and commit it"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("kind", ["solution", "hidden"])
def test_released_notebook_leaks_nothing(assignment, kind):
    lines = region_lines(assignment, kind)
    assert lines, f"no {kind} lines found in the source: the leak check would prove nothing"
    text = (EXERCISES / assignment / notebook_name(assignment)).read_text()
    released = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells)
    assert not leaked(lines, released)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_notebook_uses_no_instructor_code(assignment):
    for cell in load(EXERCISES, assignment).cells:
        if cell.cell_type == "code":
            assert not re.search(r"^\s*(import|from)\s+grader\b", cell.source, re.M), cell.source


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_part_has_visible_and_hidden_tests(assignment):
    for cell in load(EXERCISES.parent / "solutions", assignment).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            visible = cell.source.split("### END HIDDEN TESTS")[-1]
            assert "### BEGIN HIDDEN TESTS" in cell.source, meta["grade_id"]
            assert "check_close(" in visible, f"{meta['grade_id']} has no visible test"


def test_release_refuses_an_unknown_assignment(tmp_path):
    with pytest.raises(ReleaseError, match="unknown assignment"):
        release(["ch99_nothing"], out=tmp_path, workdir=tmp_path)


def test_the_data_command_checks_the_stored_texts():
    """`python -m grader data` loads the stored texts, checks their SHA-256 and prints them."""
    done = subprocess.run([sys.executable, "-m", "grader", "data"], cwd=REPO, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert all(digest in done.stdout for digest in datasets.recorded_sha256().values())
    assert "465,126 characters of documentation, 632 docstrings: both match their SHA-256" in done.stdout
