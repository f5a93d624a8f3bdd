"""Build student submissions from the released notebook, as students would hand them in.

``filled(assignment, answers)`` starts from the release, fills every solution cell with
the source's solution, then replaces the cells named in ``answers`` with other code:
that is how the bank of realistic wrong submissions below is written.
"""
import contextlib
import copy
import importlib
import re
from dataclasses import dataclass

import nbformat

from grader.course import EXERCISES, SOLUTIONS, assignments, notebook_name

SOLUTION_REGION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)


def load(folder, assignment):
    return nbformat.read(folder / assignment / notebook_name(assignment), as_version=4)


def solution_sources(assignment):
    """grade_id -> the solution cell's source with the solution markers removed."""
    out = {}
    for cell in load(SOLUTIONS, assignment).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            out[meta["grade_id"]] = SOLUTION_REGION.sub("", cell.source + "\n").rstrip("\n")
    return out


def filled(assignment, answers=None):
    """The released notebook with solution cells answered (by the solution, unless overridden)."""
    nb = copy.deepcopy(load(EXERCISES, assignment))
    sources = {**solution_sources(assignment), **(answers or {})}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in sources:
            cell.source = sources[grade_id]
    return nb


def setup_namespace(folder, assignment):
    """Run a notebook's locked ``setup`` cell (its data and check helpers) in a fresh namespace, in the
    notebook's folder (as Jupyter does), where the data files it reads are."""
    setup = next(c for c in load(folder, assignment).cells
                 if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    namespace = {}
    with contextlib.chdir(folder / assignment):
        exec(setup.source, namespace)
    return namespace


def blank(assignment):
    """The release exactly as a student receives it."""
    return load(EXERCISES, assignment)


@dataclass(frozen=True)
class Mistake:
    """A realistic wrong answer: the code a student wrote in one solution cell."""
    cell: str          # the solution cell's grade_id
    code: str          # what the student wrote there
    fails: str         # the only test cell that must lose its points
    says: str          # text the failure message must contain


def banks():
    """(assignment, mistake name) -> Mistake, from every ``tests/bank_<assignment>.py``."""
    out = {}
    for assignment in assignments():
        module = importlib.import_module(f"bank_{assignment}")
        out.update({(assignment, name): m for name, m in module.MISTAKES.items()})
    return out
