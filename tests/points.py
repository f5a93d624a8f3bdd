"""Points per graded cell, read from the source notebook (so tests never hard-code a score)."""
from submission_bank import load

from grader.course import SOLUTIONS


def points(assignment):
    """grade_id -> points for autograded test cells, and the total of those."""
    cells = {}
    for cell in load(SOLUTIONS, assignment).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cells[meta["grade_id"]] = meta["points"]
    return cells, sum(cells.values())


def manual_points(assignment):
    return sum(c.metadata["nbgrader"]["points"] for c in load(SOLUTIONS, assignment).cells
               if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution"))
