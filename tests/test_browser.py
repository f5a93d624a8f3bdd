"""The built site in a real browser (headless Chromium driven by Playwright), as a student sees it.

Every page of the table of contents must load with no console error and no failed request,
typeset every equation, load every image; the navigation and the search must work; exercise
pages show the stubs and no solution; the downloaded exercise is the exact notebook nbgrader
expects back. A screenshot of each page goes to ``<build>/screenshots/``.

Accessibility (WCAG 2.1 AA): axe-core (shipped inside ``axe-playwright-python``, injected into
the page; nothing fetched) runs on every page and fails on any serious or critical violation of
the WCAG 2.1 A/AA rules; every violation, moderate and minor ones included, is listed in
``<build>/accessibility/axe-report.txt``. Equations carry MathJax's assistive MathML, which
screen readers read; the sidebar, search, download and launch buttons work from the keyboard.
"""
import functools
import html
import http.server
import json
import os
import re
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

    def __init__(self, browser, url, mode=None):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        if mode:  # the colour mode a student picked earlier, which the theme keeps in localStorage
            self.page.add_init_script(f"localStorage.setItem('mode', '{mode}'); localStorage.setItem('theme', '{mode}')")
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


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]  # the rules of WCAG 2.1 levels A and AA
BLOCKING = ("critical", "serious")


def axe_violations(page):
    """axe-core's violations on the page as it is now: WCAG 2.1 A/AA rules and its best practices."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": AXE_TAGS + ["best-practice"]}, "resultTypes": ["violations"]}
    return Axe().run(page, options=options).response["violations"]


def wcag(violation):
    return bool(set(violation["tags"]) & set(AXE_TAGS))


def blocking(violations):
    """The violations that fail the test: serious or critical, of a WCAG 2.1 A/AA rule."""
    return [v for v in violations if v["impact"] in BLOCKING and wcag(v)]


def describe(violations, nodes=3):
    """Readable lines: rule, impact, how many elements, and the first few of them."""
    lines = []
    for v in violations:
        kind = "WCAG 2.1" if wcag(v) else "best practice"
        lines.append(f"{v['id']} ({v['impact']}, {kind}, {len(v['nodes'])} elements): {v['help']}")
        for node in v["nodes"][:nodes]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['html'][:160]}")
    return lines


def write_axe_report(folder, page_name, violations):
    """Record one page's violations, then rewrite the site-wide report from every page's record."""
    folder.mkdir(exist_ok=True)
    (folder / (page_name.replace("/", "__") + ".json")).write_text(json.dumps(violations, indent=1))
    lines = ["axe-core violations per page: WCAG 2.1 A/AA rules (serious and critical ones fail the",
             "browser test) and axe's best practices (reported only)", ""]
    for record in sorted(folder.glob("*.json")):
        found = json.loads(record.read_text())
        counts = {impact: sum(v["impact"] == impact for v in found if wcag(v))
                  for impact in ("critical", "serious", "moderate", "minor")}
        lines.append(record.stem.replace("__", "/") + ": WCAG " + ", ".join(f"{n} {k}" for k, n in counts.items())
                     + f"; best practice {sum(not wcag(v) for v in found)}")
        lines += ["  " + line for line in describe(found)]
    (folder / "axe-report.txt").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("path", PAGES)
def test_page_has_no_serious_accessibility_violation(browser, site_url, html_dir, path):
    with Visit(browser, f"{site_url}/{path}") as page:
        violations = axe_violations(page)
    write_axe_report(html_dir.parent / "accessibility", path, violations)
    assert not blocking(violations), "\n".join([f"{path}: WCAG 2.1 A/AA violations"] + describe(blocking(violations)))


@pytest.mark.parametrize("path", ["book/ch04_recurrent_networks.html",
                                  "exercises/ch04_recurrent_networks/ch04_recurrent_networks.html"])
def test_dark_mode_has_no_serious_accessibility_violation(browser, site_url, html_dir, path):
    """The theme's dark colours (code, admonitions, links) get the same check, on a chapter and an exercise."""
    with Visit(browser, f"{site_url}/{path}", mode="dark") as page:
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        violations = axe_violations(page)
    write_axe_report(html_dir.parent / "accessibility", f"dark mode/{path}", violations)
    assert not blocking(violations), "\n".join([f"{path} (dark): WCAG 2.1 A/AA violations"] + describe(blocking(violations)))


def test_axe_sees_what_a_screen_reader_user_would_miss(browser):
    """The check must be able to fail: an image without alt text and grey-on-white text."""
    page = browser.new_page()
    page.set_content('<html lang="en"><head><title>t</title></head><body><main><h1>t</h1>'
                     '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><p style="color:#bbb">faint</p>'
                     '</main></body></html>')
    violations = axe_violations(page)
    page.close()
    assert {v["id"] for v in blocking(violations)} >= {"image-alt", "color-contrast"}, describe(violations)


CHAPTERS = [p for p in PAGES if re.match(r"book/ch\d\d_", p)]


@pytest.mark.parametrize("path", CHAPTERS)
def test_equations_are_exposed_to_screen_readers_as_mathml(browser, site_url, html_dir, path):
    """The first displayed equation of each chapter: its visual rendering hidden from assistive
    technology, a MathML copy of the same formula in the accessibility tree instead."""
    tex = re.search(r'<div class="math[^"]*"[^>]*>(.*?)</div>', (html_dir / path).read_text(), re.S)
    assert tex, f"no displayed equation on {path}"
    source = html.unescape(re.sub(r"<[^>]+>|\(\d+\)", " ", tex.group(1)))  # the number and its link; &amp; is &
    source = re.sub(r"\\(text|mathrm|operatorname|texttt|mbox)\s*\{[^}]*\}", " ", source)  # words, not symbols
    source = re.sub(r"\\(begin|end)\s*\{[^}]*\}", " ", source)  # environment names (aligned, split), not symbols
    letters = re.findall(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+|\\.", " ", source))  # the single-letter symbols
    with Visit(browser, f"{site_url}/{path}") as page:
        equation = page.locator("div.math").first
        hidden = equation.locator("mjx-math").first.get_attribute("aria-hidden")
        mathml = equation.locator("mjx-assistive-mml math").first
        assert hidden == "true" and mathml.count() == 1, (path, hidden)
        tree = equation.aria_snapshot()
    spoken = re.search(r"- math: (.*)", tree)
    assert spoken, f"{path}: no math node in the accessibility tree:\n{tree}"
    missing = [c for c in dict.fromkeys(letters) if c not in spoken.group(1).split()]
    assert letters and not missing, (path, source, spoken.group(1), missing)


FOCUSED = """() => {
    const e = document.activeElement, r = e.getBoundingClientRect(), s = getComputedStyle(e);
    return {tag: e.tagName, cls: String(e.className), href: e.getAttribute('href'),
            label: (e.getAttribute('aria-label') || e.title || e.innerText || '').trim().slice(0, 60),
            expanded: e.getAttribute('aria-expanded'),
            sidebar: !!e.closest('.bd-sidebar-primary'), article: !!e.closest('article'),
            result: !!e.closest('#search-results'),
            visible: r.width > 0 && r.height > 0 && s.visibility !== 'hidden',
            outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 ? s.outlineWidth : null,
            shadow: s.boxShadow}}"""
SHADOW_RING = re.compile(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\) 0px 0px 0px ([\d.]+)px")


def focus_ring(stop):
    """Whether the focused element shows where the focus is: an outline or a solid box-shadow ring."""
    rings = SHADOW_RING.findall(stop["shadow"])
    return bool(stop["outline"]) or any(float(spread) >= 2 and float(alpha or 1) >= 0.5
                                        for *_, alpha, spread in rings)


def tab_until(page, wanted, limit=80):
    """Press Tab until the focused element matches ``wanted``; every element passed on the way."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stops.append(page.evaluate(FOCUSED))
        if wanted(stops[-1]):
            return stops
    raise AssertionError(f"{limit} presses of Tab never reached it; focus went through "
                         f"{[(s['tag'], s['label']) for s in stops]}")


def test_keyboard_reaches_and_uses_sidebar_search_download_and_launch(browser, site_url):
    """Tab from the top of an exercise page: skip link first, then every control reachable, each
    showing where the focus is, and each one working with Enter, arrows and Escape alone."""
    assignment = "ch04_recurrent_networks"
    url = f"{site_url}/exercises/{assignment}/{assignment}.html"
    with Visit(browser, url) as page:
        walk = tab_until(page, lambda s: s["article"])
        assert walk[0]["label"] == "Skip to main content", walk[0]
        labels = [s["label"] for s in walk]
        for control in ("Search", "Launch interactive content", "Download this page", "Recurrent networks"):
            assert control in labels, (control, labels)
        assert sum(s["sidebar"] for s in walk) >= len(PAGES), "not every page of the sidebar is reachable"
        unseen = [(s["tag"], s["label"]) for s in walk if not (s["visible"] and focus_ring(s))]
        assert not unseen, f"keyboard focus invisible on {unseen}"

    with Visit(browser, url) as page:  # the download menu: open it, walk in, close it, open it and take the notebook
        tab_until(page, lambda s: s["label"] == "Download this page")
        page.keyboard.press("Enter")
        assert page.evaluate(FOCUSED)["expanded"] == "true"
        page.keyboard.press("ArrowDown")
        item = page.evaluate(FOCUSED)
        assert item["visible"] and focus_ring(item) and item["href"].endswith(f"{assignment}.ipynb"), item
        page.keyboard.press("Escape")
        toggle = page.evaluate(FOCUSED)
        assert toggle["label"] == "Download this page" and toggle["expanded"] == "false", toggle
        page.keyboard.press("Enter")
        page.keyboard.press("ArrowDown")
        with page.context.expect_event("request", lambda r: r.url.endswith(".ipynb")) as fetched:
            page.keyboard.press("Enter")  # a new tab that downloads the notebook (its bytes: test above)
        assert fetched.value.url.endswith(f"_sources/exercises/{assignment}/{assignment}.ipynb"), fetched.value.url

    with Visit(browser, url) as page:  # the launch menu: Binder and Colab links reachable (not followed: offline)
        tab_until(page, lambda s: s["label"] == "Launch interactive content")
        page.keyboard.press("Enter")
        hrefs = []
        for _ in range(2):
            page.keyboard.press("ArrowDown")
            item = page.evaluate(FOCUSED)
            assert item["visible"] and focus_ring(item), item
            hrefs.append(item["href"])
        assert hrefs[0].startswith("https://mybinder.org/") and hrefs[1].startswith("https://colab.research.google.com/"), hrefs
        assert all(h.endswith(f"exercises/{assignment}/{assignment}.ipynb") for h in hrefs), hrefs
        page.keyboard.press("Escape")
        assert page.evaluate(FOCUSED)["expanded"] == "false"

    with Visit(browser, url) as page:  # the search: open the dialog, type, read the results
        tab_until(page, lambda s: s["label"] == "Search")
        page.keyboard.press("Enter")
        box = page.evaluate(FOCUSED)
        assert box["tag"] == "INPUT" and box["visible"], box
        page.keyboard.type("unrolling")
        page.keyboard.press("Enter")
        page.wait_for_selector("#search-results ul.search li", timeout=20000)
        hit = tab_until(page, lambda s: s["result"] and "ch04_recurrent_networks" in (s["href"] or ""))[-1]
        assert hit["visible"] and focus_ring(hit), hit

    with Visit(browser, url) as page:  # the sidebar: follow a chapter link with Enter
        tab_until(page, lambda s: s["sidebar"] and s["label"] == "Recurrent networks")
        page.keyboard.press("Enter")
        page.wait_for_url("**/book/ch04_recurrent_networks.html", timeout=20000)
