"""The self-check cell at the end of every notebook: generated from grader.selfcheck, needs no install."""
import ast

import nbformat
import pytest
from nbclient import NotebookClient

from bank_ch04_recurrent_networks import MISTAKES
from grader.course import EXERCISES, SOLUTIONS, assignments, notebook_name
from grader.selfcheck import SELF_CHECK_ID, cell_source, install, summary_lines, where_to_start
from submission_bank import filled

A = "ch04_recurrent_networks"


@pytest.mark.parametrize("assignment", assignments())
def test_every_notebook_ends_with_the_generated_self_check(assignment):
    for folder in (SOLUTIONS, EXERCISES):
        nb = nbformat.read(folder / assignment / notebook_name(assignment), as_version=4)
        assert nb.cells[-1].metadata["nbgrader"]["grade_id"] == SELF_CHECK_ID, folder
        assert not install(nb, notebook_name(assignment)), f"{folder}: run `python -m grader release`"


def test_the_cell_imports_nothing_from_the_course():
    tree = ast.parse(cell_source(f"{A}.ipynb"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"ast", "contextlib", "io", "json", "os", "pathlib"}, imported


def test_where_to_start_follows_calls_through_parts():
    results = [("FAIL", "test_a", 1, ""), ("FAIL", "test_b", 1, ""), ("FAIL", "test_c", 1, ""), ("PASS", "test_d", 1, "")]
    code = {"a": "def a(): return 1", "b": "def b(): return a()", "c": "def c(): return b() + d()", "d": "def d(): pass"}
    blocked = where_to_start(results, code)
    assert blocked == {"b": ["a"], "c": ["b"]}
    assert summary_lines(results, blocked)[-1].startswith("fix a first: b, c use it")
    assert where_to_start([("FAIL", "test_a", 1, ""), ("PASS", "test_b", 1, "")], code) == {}


def run_in_kernel(tmp_path, nb):
    path = tmp_path / f"{A}.ipynb"
    nbformat.write(nb, path)  # the self-check reads the saved file
    NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return "".join(o.get("text", "") for o in nb.cells[-1].outputs)


def test_the_cell_reports_every_part_in_a_downloaded_notebook(tmp_path, monkeypatch):
    monkeypatch.delenv("RNN_COURSE_SKIP_SELF_CHECK", raising=False)
    report = run_in_kernel(tmp_path, filled(A))
    assert report.count("PASS") == 4 and "HAND" in report and "11 of 11 points pass" in report, report
    mistake = MISTAKES["wrong_activation"]
    report = run_in_kernel(tmp_path, filled(A, {mistake.cell: mistake.code}))
    assert "FAIL  test_rnn_step" in report and "fix rnn_step first" in report, report
