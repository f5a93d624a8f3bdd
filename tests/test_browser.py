"""The built site in a real browser (headless Chromium driven by Playwright), as a student sees it.

Every page of the table of contents must load with no console error and no failed request,
typeset every equation, load every image; the navigation and the search must work; exercise
pages show the stubs and no solution; the downloaded exercise is the exact notebook nbgrader
expects back. A screenshot of each page goes to ``<build>/screenshots/``.
"""
import functools
import http.server
import json
import os
import shutil
import threading

import pytest

from grader.course import EXERCISES, assignments, notebook_name
from grader.leaks import leaked, region_lines
from site_pages import toc_pages

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
# Flags for a closed network: without them Chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
PAGES = toc_pages()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site_url(html_dir):
    handler = functools.partial(QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), f"no Chromium at {CHROMIUM}: `apt-get install chromium` (see .ci/run)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Visit:
    """One page load with every console error, page error and failed request recorded."""

    def __init__(self, browser, url):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.problems = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        self.page.goto(url, wait_until="networkidle")
        self.page.wait_for_function("!window.MathJax || (MathJax.startup && MathJax.startup.promise)")
        self.page.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise : null")

    def __enter__(self):
        return self.page

    def __exit__(self, *exc):
        self.page.close()


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_clean_typesets_and_shows_its_images(browser, site_url, html_dir, path):
    visit = Visit(browser, f"{site_url}/{path}")
    with visit as page:
        assert not visit.problems, visit.problems
        # every equation typeset: MathJax replaced each math element and reported no TeX error
        counts = page.evaluate("""() => ({
            math: document.querySelectorAll('span.math, div.math').length,
            untypeset: [...document.querySelectorAll('span.math, div.math')]
                       .filter(e => !e.querySelector('mjx-container')).length,
            errors: document.querySelectorAll('mjx-merror').length})""")
        assert counts["untypeset"] == 0 and counts["errors"] == 0, counts
        text = page.inner_text("main")
        for raw in ("$$", "\\frac", "\\begin{", "\\mathbb"):
            assert raw not in text, f"raw TeX {raw!r} visible on {path}"
        broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
        assert not broken, broken
        shots = html_dir.parent / "screenshots"
        shots.mkdir(exist_ok=True)
        page.screenshot(path=str(shots / (path.replace("/", "__").replace(".html", ".png"))), full_page=True)


def test_chapter_math_is_really_typeset(browser, site_url):
    with Visit(browser, f"{site_url}/book/ch04_recurrent_networks.html") as page:
        assert page.locator("mjx-container").count() >= 20


def test_next_link_and_sidebar_navigate(browser, site_url):
    with Visit(browser, f"{site_url}/{PAGES[0]}") as page:
        for expected in PAGES[1:]:
            page.locator("a.right-next").first.click()
            page.wait_for_load_state("load")
            assert page.url.endswith(expected), (page.url, expected)
        page.locator(".bd-sidebar-primary a", has_text="Recurrent networks").first.click()
        page.wait_for_load_state("load")
        assert page.url.endswith("book/ch04_recurrent_networks.html")


def test_search_finds_the_chapter(browser, site_url):
    with Visit(browser, f"{site_url}/{PAGES[0]}") as page:
        page.keyboard.press("Control+k")
        box = page.locator("input[name='q']:visible").first
        box.fill("unrolling")
        box.press("Enter")
        page.wait_for_selector("#search-results ul.search li", timeout=20000)
        links = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.href)")
        assert any("ch04_recurrent_networks" in link for link in links), links


@pytest.mark.parametrize("assignment", assignments())
def test_exercise_page_shows_stubs_not_solutions(browser, site_url, assignment):
    with Visit(browser, f"{site_url}/exercises/{assignment}/{assignment}.html") as page:
        text = page.inner_text("main")
        assert "raise NotImplementedError()" in text
        assert not leaked(region_lines(assignment, "solution") | region_lines(assignment, "hidden"), text)


@pytest.mark.parametrize("assignment", assignments())
def test_downloaded_exercise_is_the_released_notebook(browser, site_url, assignment):
    """The page's download link gives back the notebook exactly as released: nbgrader metadata intact."""
    with Visit(browser, f"{site_url}/exercises/{assignment}/{assignment}.html") as page:
        hrefs = page.eval_on_selector_all("a[href$='.ipynb']", "els => els.map(e => e.href)")
        hrefs = [h for h in hrefs if h.startswith(site_url) and "/_sources/" in h]  # not Binder/Colab links
        assert hrefs, "no .ipynb download link on the exercise page"
        response = page.request.get(hrefs[0])
        assert response.ok
        released = json.loads((EXERCISES / assignment / notebook_name(assignment)).read_text())
        assert json.loads(response.body()) == released
