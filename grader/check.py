"""The student's self-check: run a filled-in notebook and report each graded part.

``nbgrader validate`` exits 0 even when tests fail; this exits 1 when any visible test fails.
Before running, it warns about the accidents the grader would have to repair (a deleted or
copied cell, a changed cell type, lost metadata: ``grader.repair``), and runs the notebook as
the grader will see it.
"""
import os
import tempfile
import warnings
from pathlib import Path

import nbformat
from jupyter_client import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from grader.course import assignments
from grader.repair import carried_ids, nothing_matched, other_exercise, repair
from grader.selfcheck import SKIP_ENV, summary_lines, where_to_start
from grader.submissions import released_notebook

ADVICE = ("the grader repairs this before grading, so your work still counts; to be safe, undo it "
          "(Edit → Undo, or copy your answers into a fresh download of the exercise)")


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def part_results(nb):
    """(status, name, points, message) for each graded cell of an executed notebook."""
    results = []
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if not meta.get("grade"):
            continue
        name, points = meta["grade_id"], meta.get("points", 0)
        if meta.get("solution"):  # a written answer, graded by hand
            empty = "YOUR ANSWER HERE" in cell.source or not cell.source.strip()
            results.append(("EMPTY" if empty else "HAND", name, points,
                            "still empty" if empty else "answer written; graded by hand"))
            continue
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if not errors:
            results.append(("PASS", name, points, ""))
        elif errors[0].ename == "NotImplementedError":
            results.append(("TODO", name, points, "not implemented yet (the function still raises NotImplementedError)"))
        else:
            results.append(("FAIL", name, points, f"{errors[0].ename}: {errors[0].evalue}"))
    return results


def which_exercise(path, nb, releases):
    """The exercise a notebook belongs to: its file name, else the exercise whose metadata it carries."""
    if path.stem in releases:
        return path.stem
    carried = carried_ids(nb)
    overlap = {a: len(carried & carried_ids(rel)) for a, rel in releases.items()}
    best = max(overlap, key=overlap.get, default=None)
    return best if best and overlap[best] else None


def repaired(path, nb, out):
    """The notebook as the grader will grade it, after a warning per accident; None if it cannot be graded."""
    releases = {a: released_notebook(a) for a in assignments()}
    assignment = which_exercise(path, nb, releases)
    if assignment is None:
        return nb
    other = other_exercise(nb, releases, assignment)
    if other:
        out(f"error: {path.name} is the notebook of the exercise {other}, not {assignment}")
        return None
    fixed = repair(nb, releases[assignment])
    if not fixed.matched:
        out(f"error: {path.name}: {nothing_matched(releases[assignment], assignment)}")
        return None
    for note in fixed.notes:
        out(f"WARN  {note}")
    if fixed.notes:
        out(f"WARN  {ADVICE}")
    return fixed.notebook


def check(path, timeout=60, out=print):
    """Run the notebook at ``path``; print one line per graded part; return the exit code."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        out(f"error: {path} does not exist")
        return 2
    except Exception:
        out(f"error: {path} is not a readable notebook (cut short, or not a Jupyter notebook); "
            "open it in Jupyter and save it again")
        return 2
    nb = repaired(path, nb, out)
    if nb is None:
        return 2
    if not any(_nbgrader(c).get("grade") for c in nb.cells):
        out(f"error: {path} has no graded cells; is it a course exercise notebook?")
        return 2
    try:
        run(nb, path.parent.resolve(), timeout)
    except CellTimeoutError:
        out(f"error: a cell ran longer than {timeout} s (an endless loop?); fix it, or raise --timeout")
        return 1
    except DeadKernelError:
        out("error: the kernel died while running the notebook (a crash, os._exit, or too much memory)")
        return 1
    results = part_results(nb)
    solutions = {_nbgrader(c)["grade_id"]: c.source for c in nb.cells if _nbgrader(c).get("solution")}
    for line in summary_lines(results, where_to_start(results, solutions)):
        out(line)
    return 1 if any(r[0] in ("FAIL", "TODO") for r in results) else 0


def run(nb, folder, timeout):
    """Execute the notebook in a fresh kernel on a private Unix socket (no TCP, so no kernel warning
    about unencrypted ports in the student's terminal); the notebook's own self-check cell stays quiet."""
    with tempfile.TemporaryDirectory(prefix="rnn-check-") as sockets:
        km = KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
        old = os.environ.get(SKIP_ENV)
        os.environ[SKIP_ENV] = "1"
        try:
            NotebookClient(nb, km=km, timeout=timeout, allow_errors=True,
                           resources={"metadata": {"path": str(folder)}}).execute()
        finally:
            if km.has_kernel:
                km.shutdown_kernel(now=True)
            if old is None:
                os.environ.pop(SKIP_ENV, None)
            else:
                os.environ[SKIP_ENV] = old
