"""Student feedback works offline and meets WCAG 2.1 AA: math is MathML, nothing is loaded from the network,
axe-core finds no serious violation (checked in Chromium)."""
import re

from chromium import chromium
from test_browser import axe_violations, blocking, describe
from grader.feedback_math import drop_cdn_mathjax, markdown_with_mathml



def has_math(assignment):
    """Does the released notebook's markdown hold any formula?"""
    import nbformat

    from grader.course import EXERCISES, notebook_name

    nb = nbformat.read(EXERCISES / assignment / notebook_name(assignment), as_version=4)
    return any("<math" in markdown_with_mathml(c.source) for c in nb.cells if c.cell_type == "markdown")


def test_markdown_math_becomes_mathml_and_code_is_left_alone():
    out = markdown_with_mathml("Let $h_t = \\tanh(a_t)$, costs `$5` and\n\n$$\\sum_t L_t$$\n\n```\nx = '$y$'\n```\n")
    assert out.count("<math") == 2 and 'display="block"' in out and 'display="inline"' in out
    assert "`$5`" in out and "x = '$y$'" in out
    assert markdown_with_mathml("a \\$5 and \\$6 b") == "a \\$5 and \\$6 b"  # escaped dollars are not math


def test_cdn_script_is_dropped():
    page = "<head><!-- Load mathjax -->\n<script src='https://cdn/x.js'></script>\n" \
           "<!-- End of mathjax configuration --><style></style></head>"
    assert "https://" not in drop_cdn_mathjax(page) and "<style>" in drop_cdn_mathjax(page)


def test_feedback_pages_load_nothing_from_the_network(feedback, graded):
    _, workdir = graded
    pages = sorted((workdir / "feedback").glob("correct/*/*.html"))
    assert pages
    with chromium() as browser:
        for path in pages:
            text = path.read_text()
            assert not re.search(r"""<script[^>]+src=["']https?:""", text), path
            page = browser.new_page()
            requests = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            assert all(u.startswith(("file://", "data:")) for u in requests), (path, requests)
            if has_math(path.parent.name):
                assert page.locator("math").count() > 0, f"{path}: no math rendered"
            page.close()
