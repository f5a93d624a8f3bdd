"""The book builds with warnings as errors, works offline, and shows students no solution."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.course import REPO, assignments
from leaks import leaked, region_lines, visible_text

JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
CHAPTER = "book/ch04_recurrent_networks.html"
EXERCISE = "exercises/ch04_recurrent_networks/ch04_recurrent_networks.html"


@pytest.fixture(scope="session")
def html_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([str(JUPYTER_BOOK), "build", str(REPO), "--path-output", str(out), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    return out / "_build" / "html"


def pages(html_dir):
    return {p.relative_to(html_dir).as_posix(): p.read_text() for p in html_dir.rglob("*.html")
            if "_static" not in p.parts}


def test_chapter_and_exercise_pages_are_built(html_dir):
    built = pages(html_dir)
    for page in ("index.html", "book/intro.html", CHAPTER, EXERCISE):
        assert page in built, sorted(built)


def test_chapter_has_figures_math_and_citations(html_dir):
    page = (html_dir / CHAPTER).read_text()
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', page)
    assert len(images) >= 3, images
    for src in images:
        assert (html_dir / "book" / src).resolve().is_file(), src
    assert page.count('class="math') >= 10
    assert 'class="citation-list"' in page and "Finding structure in time" in visible_text(page)


def test_exercise_page_shows_the_stubs_not_run(html_dir):
    page = (html_dir / EXERCISE).read_text()
    assert visible_text(page).count("raise NotImplementedError()") >= 4
    assert 'class="cell_output' in (html_dir / CHAPTER).read_text()  # the marker is right
    assert 'class="cell_output' not in page  # never executed: no outputs at all


@pytest.mark.parametrize("kind", ["solution", "hidden"])
def test_site_leaks_nothing(html_dir, kind):
    lines = set().union(*(region_lines(a, kind) for a in assignments()))
    for name, page in pages(html_dir).items():
        assert not leaked(lines, visible_text(page)), name


def test_site_loads_nothing_from_the_internet(html_dir):
    """MathJax included: students offline must still see typeset equations."""
    remote = re.compile(r'<(script|link|img)\b[^>]*\b(src|href)="(https?:)?//', re.I)
    for name, page in pages(html_dir).items():
        tags = [m.group(0) for m in remote.finditer(page)]
        assert not tags, (name, tags[:3])
    assert (html_dir / "_static" / "mathjax" / "MathJax.js").is_file()
    assert re.search(r'<script[^>]+src="[^"]*_static/mathjax/MathJax\.js', (html_dir / CHAPTER).read_text())
