"""Find submissions, check them before grading, and stage them where nbgrader expects them.

SUBMISSIONS holds ``<student>/<assignment>/<notebook>.ipynb``. Checks here are cheap and
run before any kernel starts: an unreadable notebook or an unknown assignment cannot be
graded (``fatal``); a renamed file, deleted or edited test cells can, but an instructor
should look (``problems``).
"""
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.course import EXERCISES, assignments, notebook_name
from grader.policy import assignment_policy, defined_names, submission_names, suspicious, uses_module


@dataclass
class Submission:
    student: str
    assignment: str
    folder: Path
    notebook: Path = None
    problems: list = field(default_factory=list)
    fatal: str = ""
    deductions: dict = field(default_factory=dict)  # test cell -> why its points are withdrawn

    @property
    def key(self):
        return f"{self.student}/{self.assignment}"


def discover(root):
    """One Submission per ``<student>/<assignment>/`` folder under ``root``, in sorted order."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"submissions folder not found: {root}")
    found = []
    for student_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for folder in sorted(p for p in student_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            found.append(precheck(Submission(student_dir.name, folder.name, folder)))
    return found


def _grade_cells(nb):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")}


def precheck(sub):
    """Fill in ``sub.notebook``, ``sub.fatal`` and ``sub.problems``; never raises."""
    known = assignments()
    if sub.assignment not in known:
        sub.fatal = f"unknown assignment '{sub.assignment}' in {sub.folder} (known: {', '.join(known)})"
        return sub
    expected = notebook_name(sub.assignment)
    notebooks = sorted(p for p in sub.folder.glob("*.ipynb"))
    if (sub.folder / expected).is_file():
        sub.notebook = sub.folder / expected
    elif len(notebooks) == 1:
        sub.notebook = notebooks[0]
        sub.problems.append(f"notebook renamed: graded {notebooks[0].name} as {expected}")
    elif not notebooks:
        sub.fatal = f"no notebook in {sub.folder} (expected {expected})"
        return sub
    else:
        sub.fatal = f"expected {expected} in {sub.folder}, found {', '.join(p.name for p in notebooks)}"
        return sub
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat's future-deprecation notes are not the student's problem
            nb = nbformat.read(sub.notebook, as_version=4)
            nbformat.validate(nb)
    except Exception as err:  # truncated JSON, not a notebook, bad schema: all the same to the grader
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        sub.fatal = f"not a readable notebook: {sub.notebook} ({type(err).__name__}: {first_line[:200]})"
        return sub
    released = nbformat.read(EXERCISES / sub.assignment / expected, as_version=4)
    sub.problems += compare_with_release(nb, released)
    sub.problems += code_problems(nb, released)
    sub.deductions = policy_deductions(nb, sub.assignment)
    return sub


def _student_cells(nb):
    """(label, source) of every code cell a student may write: solution cells and cells they added."""
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or not meta.get("grade_id")):
            yield meta.get("grade_id") or f"cell {index + 1}", cell.source


def code_problems(nb, released):
    """Static checks of the student's code (see grader.policy)."""
    protected = set()
    for cell in released.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("locked") and not meta.get("grade"):
            protected |= defined_names(cell.source)
    cells = list(_student_cells(nb))
    own = submission_names(source for _, source in cells)
    problems = []
    for label, source in cells:
        problems += [f"{label}: {reason}" for reason in suspicious(source, protected, own)]
    return problems


def policy_deductions(nb, assignment):
    """Parts whose solution breaks the assignment's POLICY lose their points (never gain any)."""
    policy, out = assignment_policy(assignment), {}
    for label, source in _student_cells(nb):
        if label in policy:
            forbidden, test_cell, why = policy[label]
            if uses_module(source, forbidden):
                out[test_cell] = f"{label} uses {', '.join(sorted(forbidden))} ({why}): {test_cell} scores 0"
    return out


def compare_with_release(nb, released):
    """Problems an instructor should know of: deleted or edited read-only cells (grading restores them)."""
    got, want = _grade_cells(nb), _grade_cells(released)
    problems = []
    missing = [name for name in want if name not in got]
    if missing:
        problems.append(f"deleted cells put back from the source: {', '.join(missing)}")
    edited = [name for name, cell in want.items()
              if name in got and cell.metadata["nbgrader"].get("locked")
              and got[name].source.strip() != cell.source.strip()]
    if edited:
        problems.append(f"edited read-only cells restored from the source: {', '.join(edited)}")
    return problems


def stage(sub, submitted_dir):
    """Copy the notebook to ``submitted_dir/<student>/<assignment>/<expected name>`` for nbgrader."""
    target = Path(submitted_dir) / sub.student / sub.assignment
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copyfile(sub.notebook, target / notebook_name(sub.assignment))
