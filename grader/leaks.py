"""The lines that must never reach a student: solution code and hidden tests, read from the source.

Used by the tests (exercises, feedback, site) and by ``python -m grader publish``.
"""
import html
import re

import nbformat

from grader.course import SOLUTIONS, assignments, notebook_name

REGION = {
    "solution": re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S),
    "hidden": re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S),
}
MIN_LENGTH = 10  # shorter lines ("return H") are too generic to prove a leak
# Idioms any training loop or loop over time has: a page may show them without giving a solution
# away (chapter 6's setup cell, for instance, gives students a forward pass over time).
GENERIC = frozenset({"loss.backward()", "losses = []", "losses.append(loss.item())",
                     "optimizer.zero_grad()", "optimizer.step()", "with torch.no_grad():",
                     "for t in range(T):", "for _ in range(steps):", "B, T, _ = X.shape", "H[:, t] = h",
                     # a loop header, a guard and a return that pages use in their own computations
                     "for m in range(t, k, -1):", "if c_h == 0:", "return losses"})


def region_lines(assignment, kind):
    """Distinctive code lines inside the ``kind`` regions of the source notebook."""
    lines = set()
    for cell in nbformat.read(SOLUTIONS / assignment / notebook_name(assignment), as_version=4).cells:
        for region in REGION[kind].findall(cell.source + "\n"):
            for line in region.splitlines():
                line = line.strip()
                if len(line) >= MIN_LENGTH and not line.startswith("#") and line not in GENERIC:
                    lines.add(line)
    return lines


def visible_text(page):
    """What a reader sees of an HTML page: tags dropped (highlighting splits code into spans), entities decoded."""
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def leaked(lines, text):
    return sorted(line for line in lines if line in text)


def all_secret_lines():
    """Every solution and hidden-test line of every assignment."""
    return set().union(*(region_lines(a, kind) for a in assignments() for kind in REGION))
