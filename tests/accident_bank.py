"""Honest accidents: every answer correct, but the notebook handled as people handle notebooks in Jupyter.

Each accident is a function of the assignment that returns the submitted notebook (a
NotebookNode, or raw JSON text for what an editor writes) and the words its row's reason must
hold. All are built from the release and the source (``submission_bank.filled``), so they work
for any chapter, including ones written later.
"""
import copy
import json
import uuid

import nbformat

from grader.course import EXERCISES, assignments, notebook_name
from submission_bank import banks, filled, load


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


def _first(nb, test):
    return next(i for i, c in enumerate(nb.cells) if test(_meta(c), c))


def _is_answer(meta, cell):
    return meta.get("solution") and not meta.get("grade") and cell.cell_type == "code"


def _is_test(meta, cell):
    return meta.get("grade") and not meta.get("solution")


def _is_read_only(meta, cell):
    return meta.get("locked") and not meta.get("grade") and not meta.get("solution")


def _is_written(meta, cell):
    return meta.get("grade") and meta.get("solution")


def copied_answer_cell(a):
    """A first (wrong, from the bank of mistakes) attempt kept above the final one: Edit → Copy, Paste above."""
    nb = filled(a)
    mistake = next(m for (aa, _), m in sorted(banks().items()) if aa == a)
    i = next(i for i, c in enumerate(nb.cells) if _meta(c).get("grade_id") == mistake.cell)
    first = copy.deepcopy(nb.cells[i])
    first.source, first.id = mistake.code, uuid.uuid4().hex[:8]
    nb.cells.insert(i, first)
    return nb, f"cell {i + 1} was a copy of `{mistake.cell}`; the last copy (cell {i + 2}) was graded"


def deleted_setup(a):
    nb = filled(a)
    i = _first(nb, _is_read_only)
    grade_id = _meta(nb.cells[i])["grade_id"]
    del nb.cells[i]
    return nb, f"the read-only cell `{grade_id}` was missing; it was put back at its place (before cell {i + 1})"


def deleted_test_cells(a):
    """Every test cell deleted (in chapter 3 that includes `test_train`, right after the read-only `baseline`)."""
    nb = filled(a)
    nb.cells = [c for c in nb.cells if not _is_test(_meta(c), c)]
    return nb, "was missing; it was put back at its place"


def metadata_gone(a):
    """An editor that drops unknown metadata, or the cells copied into a fresh notebook with the instructions."""
    nb = filled(a)
    for cell in nb.cells:
        for key in ("nbgrader", "deletable", "editable"):
            cell.metadata.pop(key, None)
    return nb, "had lost their nbgrader metadata"


def answer_changed_to_markdown(a):
    nb = filled(a)
    i = _first(nb, _is_answer)
    cell = nb.cells[i]
    nb.cells[i] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata, id=cell.id)
    return nb, f"cell {i + 1} (`{_meta(cell)['grade_id']}`) had been changed to Markdown; it was changed back to code"


def answer_moved_below_its_test(a):
    nb = filled(a)
    i = _first(nb, _is_answer)
    nb.cells.insert(i + 1, nb.cells.pop(i))
    return nb, "cells were out of the exercise's order"


def answer_in_a_new_cell(a):
    """The answer cell deleted, the function written again in a new cell (no metadata) below the instructions."""
    nb = filled(a)
    i = _first(nb, _is_answer)
    answer = nb.cells.pop(i)
    nb.cells.insert(i, nbformat.v4.new_code_cell(answer.source))
    return nb, f"matched to the exercise by content: cell {i + 1} = `{_meta(answer)['grade_id']}`"


def split_answer_cell(a):
    """Split Cell (Ctrl-Shift-minus) with the cursor at the top: an empty cell above, both with the answer's id."""
    nb = filled(a)
    i = _first(nb, _is_answer)
    empty = copy.deepcopy(nb.cells[i])
    empty.source, empty.id = "", uuid.uuid4().hex[:8]
    nb.cells.insert(i, empty)
    return nb, f"cell {i + 1} was a copy of `{_meta(empty)['grade_id']}`; the last copy (cell {i + 2}) was graded"


def merged_answer_and_test(a):
    """Merge Cells (Shift-M) on an answer and the test below it: one cell, the answer's metadata, the test gone."""
    nb = filled(a)
    i = _first(nb, _is_answer)
    test = nb.cells.pop(i + 1)
    nb.cells[i].source += "\n\n" + test.source
    return nb, f"the test cell `{_meta(test)['grade_id']}` was missing; it was put back at its place (before cell {i + 2})"


def copied_test_cell(a):
    """A test cell copied to the end of the notebook, to run it again later."""
    nb = filled(a)
    test = copy.deepcopy(nb.cells[_first(nb, _is_test)])
    test.id = uuid.uuid4().hex[:8]
    nb.cells.append(test)
    return nb, f"cell {len(nb.cells)} was an extra copy of the test cell `{_meta(test)['grade_id']}`; left out"


def copied_written_answer(a):
    """A draft of the written answer kept above the final one."""
    nb = filled(a)
    i = _first(nb, _is_written)
    draft = copy.deepcopy(nb.cells[i])
    draft.source, draft.id = "Draft: to be rewritten.", uuid.uuid4().hex[:8]
    nb.cells.insert(i, draft)
    return nb, f"cell {i + 1} was a copy of `{_meta(draft)['grade_id']}`; the last copy (cell {i + 2}) was graded"


def outputs_from_another_notebook(a):
    """Cells pasted with the outputs of the student's scratch notebook: errors, a plot, even a grader report."""
    nb = filled(a)
    junk = [nbformat.v4.new_output("error", ename="NameError", evalue="name 'x' is not defined", traceback=["..."]),
            nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
            nbformat.v4.new_output("display_data", data={"application/x-rnn-grader-report": json.dumps(
                {"nonce": "0", "part": "x", "result": None})}),
            nbformat.v4.new_output("stream", name="stdout", text="ok: everything\n")]
    for n, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = copy.deepcopy(junk), 40 + n
    return nb, ""


def cell_from_another_exercise(a):
    """A cell of another exercise's notebook (its nbgrader metadata too) pasted at the end."""
    nb = filled(a)
    other = next(x for x in assignments() if x != a)
    pasted = copy.deepcopy(next(c for c in filled(other).cells if _is_read_only(_meta(c), c)))
    pasted.id = uuid.uuid4().hex[:8]
    nb.cells.append(pasted)
    return nb, f"cell {len(nb.cells)} carries the nbgrader id `{_meta(pasted)['grade_id']}` from another notebook"


def _json(nb):
    return json.loads(nbformat.writes(nb))


def saved_by_jupyterlab(a):
    """JupyterLab 4: new cell ids, timing and layout metadata, a rewritten kernelspec and language_info, outputs."""
    data = _json(filled(a))
    data["metadata"] = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                       "name": "python3"},
                        "language_info": {"codemirror_mode": {"name": "ipython", "version": 3},
                                          "file_extension": ".py", "mimetype": "text/x-python", "name": "python",
                                          "nbconvert_exporter": "python", "pygments_lexer": "ipython3",
                                          "version": "3.11.7"}}
    for n, cell in enumerate(data["cells"]):
        cell["id"] = str(uuid.UUID(int=n + 1))
        cell["metadata"].update({"tags": [], "jupyter": {"source_hidden": False}})
        if cell["cell_type"] == "code":
            cell["execution_count"] = n
            cell["metadata"]["execution"] = {"iopub.execute_input": "2026-11-30T10:00:00.000Z",
                                             "shell.execute_reply": "2026-11-30T10:00:01.000Z"}
        else:
            cell["metadata"]["jp-MarkdownHeadingCollapsed"] = True
    return json.dumps(data, indent=1), ""


def saved_by_notebook7(a):
    """Notebook 7: the source as one string per line, 'scrolled' and 'collapsed' metadata, new ids."""
    data = _json(filled(a))
    data["metadata"]["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
    for n, cell in enumerate(data["cells"]):
        cell["id"] = f"cell-{n:03d}-{uuid.UUID(int=n).hex[:6]}"
        cell["source"] = cell["source"].splitlines(keepends=True) if isinstance(cell["source"], str) else cell["source"]
        if cell["cell_type"] == "code":
            cell["metadata"].update({"scrolled": True, "collapsed": False})
    return json.dumps(data, indent=1, ensure_ascii=False), ""


def saved_by_vscode(a):
    """VS Code: nbformat 4.2 without cell ids, its own notebook metadata and kernel, a 'vscode' key per cell."""
    data = _json(filled(a))
    data["nbformat_minor"] = 2
    data["metadata"] = {"kernelspec": {"display_name": ".venv", "language": "python", "name": "python3"},
                        "language_info": {"name": "python", "version": "3.11.7"},
                        "orig_nbformat": 4, "vscode": {"interpreter": {"hash": "0" * 64}}}
    for cell in data["cells"]:
        cell.pop("id", None)
        cell["metadata"]["vscode"] = {"languageId": "python" if cell["cell_type"] == "code" else "markdown"}
    return json.dumps(data, indent=1), ""


def repeated_cell_ids(a):
    """Two cells with one id (a copy made by editing the JSON, or by a tool that copies ids)."""
    data = _json(filled(a))
    data["cells"][-1]["id"] = data["cells"][0]["id"]
    return json.dumps(data, indent=1), ""


def fresh_notebook(a):
    """Only the code cells and the written answers copied into a new notebook: no instructions, no metadata."""
    nb = nbformat.v4.new_notebook()
    for cell in filled(a).cells:
        if cell.cell_type == "code":
            nb.cells.append(nbformat.v4.new_code_cell(cell.source))
        elif _is_written(_meta(cell), cell):
            nb.cells.append(nbformat.v4.new_markdown_cell(cell.source))
    return nb, "had lost their nbgrader metadata"


def wrong_exercise(a):
    """The notebook of another exercise, handed in under this one."""
    other = next(x for x in assignments() if x != a)
    return filled(other), f"is the notebook of the exercise {other}"


def nothing_of_the_exercise(a):
    """A notebook of the student's own scratch work: nothing in it belongs to the exercise."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("My notes"), nbformat.v4.new_code_cell("x = 1\nprint(x)")]
    return nb, "none of its cells belong to the exercise"


ON_EVERY_CHAPTER = [copied_answer_cell, deleted_setup, deleted_test_cells, metadata_gone]
ON_ONE_CHAPTER = {  # accident -> chapters (index into assignments()): handled the same on every notebook, so
    # graded once, on the chapters whose notebooks grade fastest (1, 4 and 6)
    answer_changed_to_markdown: [5], answer_moved_below_its_test: [3], answer_in_a_new_cell: [0],
    split_answer_cell: [5], merged_answer_and_test: [3], copied_test_cell: [0], copied_written_answer: [5],
    outputs_from_another_notebook: [0], cell_from_another_exercise: [3], saved_by_jupyterlab: [5],
    saved_by_notebook7: [0], saved_by_vscode: [3], repeated_cell_ids: [5], fresh_notebook: [3],
    wrong_exercise: [3], nothing_of_the_exercise: [0],
}
FAILS = {wrong_exercise, nothing_of_the_exercise}  # nothing to grade: failed, no score
FLAGS = {f for f in list(ON_EVERY_CHAPTER) + list(ON_ONE_CHAPTER)} - {
    outputs_from_another_notebook, saved_by_jupyterlab, saved_by_notebook7, saved_by_vscode, repeated_cell_ids} - FAILS


def accidents():
    """(accident name, assignment) -> accident function, for the chapters that exist now."""
    names = assignments()
    out = {(f.__name__, a): f for f in ON_EVERY_CHAPTER for a in names}
    for f, chapters in ON_ONE_CHAPTER.items():
        out.update({(f.__name__, names[n % len(names)]): f for n in chapters})
    return out


def student(name, assignment):
    return f"accident__{name}__{assignment[:4]}"


def write(root, name, assignment, made):
    """Write one accident's notebook under ``root`` as ``<student>/<assignment>/<notebook>``."""
    folder = root / student(name, assignment) / assignment
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / notebook_name(assignment)
    if isinstance(made, str):
        target.write_text(made)
    else:
        nbformat.write(made, target)


def release(a):
    return load(EXERCISES, a)
