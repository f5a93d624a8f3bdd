"""The size of each exercise, read from its source notebook: the numbers the intro's table must show.

Run ``python tests/course_map.py`` to print the table rows for ``book/intro.md`` (after adding a chapter).
The time is an estimate, not a measurement (no student has been timed): MINUTES_PER_PART for each
autograded part, MINUTES_PER_LINE for each line of the reference solution's code and MINUTES_PER_WRITTEN
for each written answer, rounded to the nearest quarter hour. The intro states the same rule.
"""
import re
from dataclasses import dataclass

from points import manual_points, points
from submission_bank import load

from grader.course import SOLUTIONS, assignments

MINUTES_PER_PART, MINUTES_PER_LINE, MINUTES_PER_WRITTEN = 15, 1, 15
SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Exercise:
    assignment: str
    parts: int           # autograded test cells
    auto_points: int
    written: int         # manually graded answer cells
    written_points: int
    code_lines: int      # non-blank, non-comment lines inside the code cells' solution regions

    @property
    def points(self):
        return self.auto_points + self.written_points

    @property
    def minutes(self):
        """The estimate of the module docstring, to the nearest quarter hour."""
        raw = MINUTES_PER_PART * self.parts + MINUTES_PER_LINE * self.code_lines + MINUTES_PER_WRITTEN * self.written
        return 15 * round(raw / 15)


def code_lines(assignment):
    count = 0
    for cell in load(SOLUTIONS, assignment).cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            for region in SOLUTION.findall(cell.source + "\n"):
                count += sum(1 for line in region.splitlines() if line.strip() and not line.strip().startswith("#"))
    return count


def exercise(assignment):
    cells, auto = points(assignment)
    written = sum(1 for c in load(SOLUTIONS, assignment).cells
                  if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution"))
    return Exercise(assignment, len(cells), int(auto), written, int(manual_points(assignment)), code_lines(assignment))


def hours(minutes):
    """90 -> '1 h 30 min', 120 -> '2 h', 45 -> '45 min'."""
    h, m = divmod(minutes, 60)
    return " ".join(([f"{h} h"] if h else []) + ([f"{m} min"] if m else [])) or "0 min"


def row(e):
    """The intro's table row for one exercise (the chapter column is the assignment's number)."""
    return (f"| {int(e.assignment[2:4])} | {e.parts} | {e.auto_points} + {e.written_points} = {e.points} "
            f"| {e.code_lines} | {e.written} | {hours(e.minutes)} |")


if __name__ == "__main__":
    for name in assignments():
        print(row(exercise(name)))
