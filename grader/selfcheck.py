"""The self-check: one line per graded part (PASS, FAIL, TODO, HAND, EMPTY) and where to start.

The same functions serve ``python -m grader check`` and the last cell of every released notebook,
whose code is generated from them (``cell_source``): a student who only downloaded the notebook
gets the same summary without installing anything. They use the standard library only, and read
nothing that a student does not already have (the notebook's own test cells, its own code).
"""
import ast
import inspect

SELF_CHECK_ID = "self_check"
SKIP_ENV = "RNN_COURSE_SKIP_SELF_CHECK"  # set by the grader and by `grader check`: they report themselves


def called_names(code):
    """Names the code calls (``f(...)``); empty if it does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def where_to_start(results, solutions):
    """{failing part: [failing earlier parts its code calls]}: those are to be fixed first.

    ``results``: (status, grade_id, points, message) per graded cell; ``solutions``: part -> the
    student's code for it. A test cell ``test_<part>`` checks the function ``<part>``.
    """
    failing = [name[len("test_"):] for status, name, _, _ in results if status == "FAIL" and name.startswith("test_")]
    blocked = {}
    for part in failing:
        earlier = [other for other in failing if other != part and other in called_names(solutions.get(part, ""))]
        if earlier:
            blocked[part] = earlier
    return blocked


def summary_lines(results, blocked):
    """The lines a student reads: one per part, then the points, then where to start."""
    lines = [f"{status:5} {name:28} {points:g} pts  {message}".rstrip() for status, name, points, message in results]
    auto = [r for r in results if r[0] not in ("HAND", "EMPTY")]
    passed = sum(r[2] for r in auto if r[0] == "PASS")
    todo = [r for r in auto if r[0] in ("FAIL", "TODO")]
    lines.append(f"visible tests: {passed:g} of {sum(r[2] for r in auto):g} points pass"
                 + (f"; {len(todo)} part(s) to fix" if todo else "") + ". Hidden tests on fresh inputs decide the grade.")
    roots = sorted({e for earlier in blocked.values() for e in earlier if e not in blocked})
    for root in roots:
        waiting, grew = {p for p, earlier in blocked.items() if root in earlier}, True
        while grew:  # parts that call a part that is waiting on root wait on it too
            more = {p for p, earlier in blocked.items() if waiting & set(earlier)} - waiting
            waiting, grew = waiting | more, bool(more)
        names = ", ".join(sorted(waiting))
        lines.append(f"fix {root} first: {names} {'uses' if len(waiting) == 1 else 'use'} it (directly or through "
                     f"another part), so {'its test' if len(waiting) == 1 else 'their tests'} may pass once it does.")
    return lines


def run_self_check(notebook_name, namespace):
    """In the student's kernel: re-run every test cell of the saved notebook and print the summary."""
    import contextlib
    import io
    import json
    import os
    from pathlib import Path

    if os.environ.get(SKIP_ENV):
        print("(the self-check is skipped here: the grader reports the parts itself)")
        return
    path = Path(namespace.get("__vsc_ipynb_file__") or os.environ.get("JPY_SESSION_NAME") or notebook_name)
    if not path.exists():
        path = Path(notebook_name)
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as err:
        print(f"self-check: cannot read {path} ({type(err).__name__}); save the notebook, keep its name, "
              "and run this cell again.")
        return
    results, solutions = [], {}
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        code = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if meta.get("solution") and cell.get("cell_type") == "code":
            solutions[meta.get("grade_id", "")] = code
        if not meta.get("grade"):
            continue
        name, points = meta.get("grade_id", "?"), meta.get("points", 0)
        if meta.get("solution"):  # a written answer, graded by hand
            empty = "YOUR ANSWER HERE" in code or not code.strip()
            results.append(("EMPTY" if empty else "HAND", name, points,
                            "still empty" if empty else "answer written; graded by hand"))
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, f"<test cell {name}>", "exec"), namespace)
            results.append(("PASS", name, points, ""))
        except NotImplementedError:
            results.append(("TODO", name, points, "not implemented yet (the function still raises NotImplementedError)"))
        except NameError as err:
            results.append(("FAIL", name, points, f"NameError: {err} (run the cells above this one first)"))
        except Exception as err:
            results.append(("FAIL", name, points, f"{type(err).__name__}: {err}"))
    print("\n".join(summary_lines(results, where_to_start(results, solutions))))


def cell_source(notebook_name):
    """The code of the notebook's last cell: these functions, then the call."""
    functions = (called_names, where_to_start, summary_lines, run_self_check)
    body = "\n\n".join(inspect.getsource(f) for f in functions)
    return (f"# Self-check: re-runs every test cell above and says which parts pass.\n"
            f"# Save the notebook first (it reads the saved file). Nothing here is graded.\n"
            f"import ast\n\nSKIP_ENV = {SKIP_ENV!r}\n\n\n{body}\n\n"
            f"run_self_check({notebook_name!r}, globals())\n")


def install(nb, notebook_name):
    """Make the notebook's last two cells the self-check (a heading and the code); return whether it changed."""
    import nbformat

    heading = (f"## Self-check\n\nSave the notebook (`{notebook_name}`), then run the cell below: it runs every test cell again and "
               "prints one line per part (`PASS`, `FAIL`, `TODO`, `HAND` for written answers) with the points "
               "at stake, and which part to fix first when one part's mistake makes others fail.")
    meta = {"grade": False, "solution": False, "locked": True, "schema_version": 3}
    cells = [nbformat.v4.new_markdown_cell(heading, metadata={"nbgrader": {**meta, "grade_id": "self_check_intro"}}),
             nbformat.v4.new_code_cell(cell_source(notebook_name),
                                       metadata={"nbgrader": {**meta, "grade_id": SELF_CHECK_ID}})]
    old = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") in ("self_check_intro", SELF_CHECK_ID)]
    if [c.source for c in old] == [c.source for c in cells]:
        return False
    nb.cells = [c for c in nb.cells if c not in old] + cells
    return True

