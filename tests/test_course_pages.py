"""The pages that make the chapters one course: the intro's exercise table, the notation links, the closing page."""
import re

from course_map import exercise, row

from grader.course import REPO, assignments

BOOK = REPO / "book"
DERIVES = re.compile(r"^\$\$ \(ch\d\d-eq-", re.MULTILINE)  # a numbered display equation: the page derives something
NOTATION_LINK = "](notation.md)"


def section(text, heading):
    """The lines of ``text`` under the level-2 ``heading``, up to the next level-2 heading."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def test_intro_exercise_table_matches_the_notebooks():
    """Parts, points, solution size and the time estimate of every assignment, as its source notebook gives them."""
    table = section((BOOK / "intro.md").read_text(), "The exercises: parts, points and time")
    shown = [line for line in table.splitlines() if re.match(r"\| \d+ \|", line)]
    expected = [row(exercise(a)) for a in assignments()]
    assert shown == expected, "run `python tests/course_map.py` and paste its rows into book/intro.md"


def test_intro_points_are_the_notebooks_points():
    """The same check, stated for the points alone, so a failure names the assignment."""
    table = section((BOOK / "intro.md").read_text(), "The exercises: parts, points and time")
    shown = dict(re.findall(r"^\| (\d+) \| \d+ \| \d+ \+ \d+ = (\d+) \|", table, re.MULTILINE))
    for a in assignments():
        number = str(int(a[2:4]))
        assert shown.get(number) == str(exercise(a).points), f"{a}: the intro shows {shown.get(number)} points"


def test_intro_maps_all_eleven_chapters():
    chapters = section((BOOK / "intro.md").read_text(), "The chapters")
    numbers = [int(n) for n in re.findall(r"^\| (\d+) \|", chapters, re.MULTILINE)]
    assert numbers == list(range(1, 12))
    for page in sorted(BOOK.glob("ch[0-9][0-9]_*.md")):
        line = next(line for line in chapters.splitlines() if line.startswith(f"| {int(page.name[2:4])} |"))
        assert f"]({page.name})" in line, f"the intro's chapter map must link {page.name}"


def notation_link_line(text):
    """The line after a page's title (the one line each chapter spends on the notation link), or None."""
    lines = text.splitlines()
    title = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
    return None if title is None or title + 1 >= len(lines) else lines[title + 1]


def deriving_chapters():
    return [p for p in sorted(BOOK.glob("ch[0-9][0-9]_*.md")) if DERIVES.search(p.read_text())]


def test_every_chapter_that_derives_links_the_notation_page():
    chapters = deriving_chapters()
    assert len(chapters) >= 9, [p.name for p in chapters]
    for page in chapters:
        line = notation_link_line(page.read_text())
        assert line and NOTATION_LINK in line, f"{page.name}: the line after the title must link the notation page"


def test_the_link_check_sees_a_missing_link():
    assert notation_link_line("---\n---\n# Title\nFirst paragraph.\n") == "First paragraph."
    assert NOTATION_LINK not in notation_link_line("# Title\nFirst paragraph.\n")
