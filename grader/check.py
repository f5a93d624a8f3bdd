"""The student's self-check: run a filled-in notebook and report each graded part.

``nbgrader validate`` exits 0 even when tests fail; this exits 1 when any visible test fails.
"""
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError


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


def check(path, timeout=60, out=print):
    """Run the notebook at ``path``; print one line per graded part; return the exit code."""
    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        out(f"error: {path} does not exist")
        return 2
    except Exception as err:
        out(f"error: {path} is not a readable notebook ({type(err).__name__}: {err})")
        return 2
    if not any(_nbgrader(c).get("grade") for c in nb.cells):
        out(f"error: {path} has no graded cells; is it a course exercise notebook?")
        return 2
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    try:
        client.execute()
    except CellTimeoutError:
        out(f"error: a cell ran longer than {timeout} s (an endless loop?); fix it, or raise --timeout")
        return 1
    except DeadKernelError:
        out("error: the kernel died while running the notebook (a crash, os._exit, or too much memory)")
        return 1
    results = part_results(nb)
    for status, name, points, message in results:
        out(f"{status:5} {name:28} {points:g} pts  {message}".rstrip())
    failing = [r for r in results if r[0] in ("FAIL", "TODO")]
    passed = sum(r[2] for r in results if r[0] == "PASS")
    auto = sum(r[2] for r in results if r[0] not in ("HAND", "EMPTY"))
    out(f"visible tests: {passed:g} of {auto:g} points pass"
        + ("" if not failing else f"; {len(failing)} part(s) to fix")
        + ". Hidden tests on fresh inputs decide the grade.")
    return 1 if failing else 0
