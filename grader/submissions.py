"""Find submissions, check them before grading, and stage them where nbgrader expects them.

SUBMISSIONS holds ``<student>/<assignment>/<notebook>.ipynb``. Checks here run before any kernel
starts: an unreadable notebook, an unknown assignment or a notebook with nothing of the exercise in
it cannot be graded (``fatal``); a renamed file, or a notebook that ``grader.repair`` had to mend
(deleted, copied, re-typed or moved cells, lost metadata) can, but an instructor should look
(``problems``). What is graded is the repaired notebook.

They come in two halves: ``locate`` (which file, its bytes) runs in the driver, ``check`` (parse,
repair, policy: about 35 ms a chapter 4 notebook) on the worker that grades it, so the driver's
cost per submission does not grow with the checks (``grader.grade_task``); ``precheck`` does both.
"""
import copy
import functools
import json
import shutil
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.course import EXERCISES, assignments, notebook_name
from grader.policy import assignment_policy, defined_names, helpers_using, submission_names, suspicious, uses_module
from grader.repair import note_cell, nothing_matched, other_exercise, repair


@dataclass
class Submission:
    student: str
    assignment: str
    folder: Path
    notebook: Path = None
    problems: list = field(default_factory=list)
    fatal: str = ""
    deductions: dict = field(default_factory=dict)  # test cell -> why its points are withdrawn
    detail: str = ""      # the error behind ``fatal``, for the log
    repaired: object = None  # the notebook that is graded (grader.repair)
    numbers: list = field(default_factory=list)  # per repaired cell: the student's cell number (None: put back)
    repairs: list = field(default_factory=list)  # what the repair did (also in ``problems``), shown in feedback

    @property
    def key(self):
        return f"{self.student}/{self.assignment}"

    def cell_words(self, index):
        """The staged notebook's cell ``index`` in the student's numbering ("cell 4", or a cell put back)."""
        index -= 1 if self.repairs else 0  # the note cell heads a repaired notebook
        number = self.numbers[index] if 0 <= index < len(self.numbers) else None
        return f"cell {number}" if number else "a cell put back from the exercise"


def discover(root, checked=True):
    """One Submission per ``<student>/<assignment>/`` folder under ``root``, in sorted order (``precheck``ed)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"submissions folder not found: {root}")
    found = []
    for student_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for folder in sorted(p for p in student_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            sub = Submission(student_dir.name, folder.name, folder)
            found.append(precheck(sub) if checked else sub)
    return found


def unreadable(path, err):
    """Why a file is not a notebook we can read, in plain words, with what to do (the log keeps the error)."""
    if isinstance(err, (json.JSONDecodeError, nbformat.reader.NotJSONError)) or "JSON" in type(err).__name__:
        what = "is not complete JSON (cut short while saving or uploading?)"
    elif isinstance(err, UnicodeDecodeError):
        what = "is not text (a binary file, or a notebook saved in another encoding?)"
    else:
        what = "does not have the structure of a Jupyter notebook (written by another program, or edited by hand?)"
    return (f"not a readable notebook: {path.name} {what}; open it in Jupyter to check that the work is there, "
            "save it, and hand it in again")


@functools.lru_cache(maxsize=None)
def released_notebook(assignment):
    """The release a student received (read once; never modified)."""
    return nbformat.read(EXERCISES / assignment / notebook_name(assignment), as_version=4)


CHECKED = ("fatal", "detail", "problems", "deductions", "numbers", "repairs")  # what ``check`` finds: plain data


def precheck(sub):
    """Fill in ``sub.notebook``, ``sub.repaired``, ``sub.fatal`` and ``sub.problems``; never raises."""
    raw = locate(sub)
    if raw is not None:
        check(sub, raw)
    return sub


def locate(sub):
    """The bytes of the submission's notebook file (``sub.notebook``), or None with ``sub.fatal`` saying why."""
    known = assignments()
    if sub.assignment not in known:
        sub.fatal = f"unknown assignment '{sub.assignment}' in {sub.folder} (known: {', '.join(known)})"
        return None
    expected = notebook_name(sub.assignment)
    notebooks = sorted(p for p in sub.folder.glob("*.ipynb"))
    if (sub.folder / expected).is_file():
        sub.notebook = sub.folder / expected
    elif len(notebooks) == 1:
        sub.notebook = notebooks[0]
        sub.repairs.append(f"notebook renamed: graded {notebooks[0].name} as {expected}")
    elif not notebooks:
        sub.fatal = f"no notebook in {sub.folder} (expected {expected})"
        return None
    else:
        sub.fatal = f"expected {expected} in {sub.folder}, found {', '.join(p.name for p in notebooks)}"
        return None
    try:
        return sub.notebook.read_bytes()
    except OSError as err:  # a folder named like a notebook, no permission to read it
        sub.fatal, sub.detail = unreadable(sub.notebook, err), traceback.format_exc()
        return None


def check(sub, raw):
    """Read, repair and check the notebook ``raw`` (bytes of the file ``sub.notebook`` names); never raises."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat's notes (e.g. repeated cell ids it renames) mean nothing here
            nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as err:  # truncated JSON, not a notebook, bad schema: all the same to the grader
        sub.fatal, sub.detail = unreadable(sub.notebook, err), traceback.format_exc()
        return sub
    known = assignments()
    released = released_notebook(sub.assignment)
    other = other_exercise(nb, {a: released_notebook(a) for a in known}, sub.assignment)
    if other:
        sub.fatal = (f"{sub.notebook.name} is the notebook of the exercise {other}, not {sub.assignment} (its cells "
                     f"carry that exercise's nbgrader metadata): hand in the {sub.assignment} notebook here")
        return sub
    try:
        fixed = repair(nb, released)
    except Exception as err:  # cells without the fields every notebook cell has
        sub.fatal, sub.detail = unreadable(sub.notebook, err), traceback.format_exc()
        return sub
    if not fixed.matched:
        sub.fatal = nothing_matched(released, sub.assignment)
        return sub
    try:
        nbformat.validate(fixed.notebook)
    except Exception:  # cells of a kind the repair leaves alone, e.g. a broken output or attachment
        sub.fatal, sub.detail = unreadable(sub.notebook, ValueError()), traceback.format_exc()
        return sub
    sub.repaired, sub.numbers = fixed.notebook, fixed.numbers
    sub.repairs += fixed.notes
    sub.problems = sub.repairs + code_problems(fixed.notebook, released, fixed.numbers)
    sub.deductions = policy_deductions(fixed.notebook, sub.assignment)
    return sub


def _student_cells(nb, numbers=None):
    """(label, source) of every code cell a student may write: solution cells and cells they added."""
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or not meta.get("grade_id")):
            yield meta.get("grade_id") or f"cell {(numbers[index] if numbers else None) or index + 1}", cell.source


def code_problems(nb, released, numbers=None):
    """Static checks of the student's code (see grader.policy)."""
    protected = set()
    for cell in released.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("locked") and not meta.get("grade"):
            protected |= defined_names(cell.source)
    cells = list(_student_cells(nb, numbers))
    own = submission_names(source for _, source in cells)
    problems = []
    for label, source in cells:
        problems += [f"{label}: {reason}" for reason in suspicious(source, protected, own)]
    return problems


@functools.lru_cache(maxsize=None)
def released_for_policy(assignment):
    """(the release's locked helper cells, the top-level lines of its test cells), worked out once per assignment."""
    released = released_notebook(assignment)
    given = tuple(c.source for c in released.cells if c.cell_type == "code"
                  and c.metadata.get("nbgrader", {}).get("locked") and not c.metadata["nbgrader"].get("grade"))
    tests = frozenset(line for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")
                      and not c.metadata["nbgrader"].get("solution") for line in c.source.splitlines()
                      if line.strip() and not line[0].isspace())  # top-level lines only: never a line inside a function
    return given, tests


@functools.lru_cache(maxsize=None)
def given_helpers_using(assignment, forbidden):
    """The release's helpers that use a module in ``forbidden`` (a frozenset), sorted."""
    return sorted(helpers_using(released_for_policy(assignment)[0], forbidden))


def policy_deductions(nb, assignment):
    """Parts whose solution breaks the assignment's POLICY lose their points (never gain any).

    A part that must do without a module must also do without the setup cell's helpers that use it.
    A test cell pasted into an answer cell (an accident the repair undoes) brings the test's own torch
    comparisons with it: lines exactly as the released test cells have them are not the student's code.
    """
    policy, out = assignment_policy(assignment), {}
    if not policy:
        return out
    tests = released_for_policy(assignment)[1]
    for label, source in _student_cells(nb):
        source = "\n".join(line for line in source.splitlines() if line not in tests)
        if label in policy:
            forbidden, test_cell, why = policy[label]
            through = [h for h in given_helpers_using(assignment, frozenset(forbidden)) if uses_module(source, {h})]
            if uses_module(source, forbidden) or through:
                via = f" (through the given {', '.join(through)})" if through else ""
                out[test_cell] = f"{label} uses {', '.join(sorted(forbidden))}{via} ({why}): {test_cell} scores 0"
    return out


def staged_notebook(sub):
    """The notebook nbgrader grades (text): the repaired one, headed by what was repaired so the feedback shows it."""
    nb = copy.deepcopy(sub.repaired)
    if sub.repairs:
        nb.cells.insert(0, note_cell(sub.repairs))
    return nbformat.writes(nb)


def stage(sub, submitted_dir, text):
    """Write the graded notebook ``text`` to ``submitted_dir/<student>/<assignment>/<expected name>`` for nbgrader."""
    target = Path(submitted_dir) / sub.student / sub.assignment
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    (target / notebook_name(sub.assignment)).write_text(text)
    if (sub.folder / "timestamp.txt").is_file():  # nbgrader's exchange records when it was submitted
        shutil.copyfile(sub.folder / "timestamp.txt", target / "timestamp.txt")
