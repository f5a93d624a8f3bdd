"""Every figure of the built site has written alternative text: what the figure shows and concludes.

A screen reader announces an image by its ``alt`` attribute. myst-nb takes it from the code cell
that draws the figure (``mystnb: image: alt: "..."``); without it the attribute is the image's
file path, a hash. Checked on every image of every built page's article (the page's content;
the theme's own icons are outside it), so pages added later are covered too.
"""
import re
from html.parser import HTMLParser

from site_pages import pages

MIN_WORDS = 8  # one sentence of what the figure shows, at the least
FILE_NAME = re.compile(r"\.(png|jpe?g|gif|svg|webp|pdf)\b|_images/|\b[0-9a-f]{16,}\b", re.I)
TEX = re.compile(r"\$|\\[a-zA-Z]+")  # alt text is read aloud as is: raw TeX would be spelt out


class _Images(HTMLParser):
    """(id of the nearest element before it that has one, attributes) of every <img> in an <article>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.images, self.last_id, self.in_article = [], None, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.in_article += tag == "article"
        if attrs.get("id"):
            self.last_id = attrs["id"]
        if tag == "img" and self.in_article:
            self.images.append((self.last_id, attrs))

    def handle_endtag(self, tag):
        self.in_article -= tag == "article" and self.in_article > 0


def _images(page):
    parser = _Images()
    parser.feed(page)
    return parser.images


def alt_problem(alt):
    """Why ``alt`` is not a written description of a figure, or None when it is one."""
    if alt is None:
        return "no alt attribute"
    words = alt.split()
    if not words:
        return "empty alt text"
    if FILE_NAME.search(alt):
        return f"alt text is a file name: {alt!r}"
    if TEX.search(alt):
        return f"alt text contains raw TeX (write the words a reader would say): {alt!r}"
    if len(words) < MIN_WORDS:
        return f"alt text too short to say what the figure shows ({len(words)} words): {alt!r}"
    return None


def alt_problems(site_pages):
    """One line per image of ``site_pages`` (name -> HTML) whose alt text is missing or not written."""
    found = []
    for name, text in sorted(site_pages.items()):
        for near, attrs in _images(text):
            problem = alt_problem(attrs.get("alt"))
            if problem:
                found.append(f"{name}: image {attrs.get('src')} (after #{near}): {problem}")
    return found


def test_every_image_has_written_alt_text(html_dir):
    built = pages(html_dir)
    count = sum(len(_images(text)) for text in built.values())
    assert count >= 27, f"only {count} figures on the whole site: are the chapters' figures built?"
    problems = alt_problems(built)
    assert not problems, "set `mystnb: image: alt:` in the cell that draws each figure:\n" + "\n".join(problems)


def test_the_alt_check_sees_each_kind_of_bad_alt_text():
    """The check must be able to fail: the path myst-nb writes by default, and the other ways to miss."""
    good = "Bits per character of the RNN during training, falling below the trigram model after 600 steps."
    page = f"""<img src="logo.svg"><article><figure id="fig-a"><img src="../_images/0326c525ab.png" alt="../_images/0326c525ab.png"></figure>
        <img src="b.png"> <img src="c.png" alt="  "> <img src="d.png" alt="Loss curve">
        <img src="e.png" alt="The norm of $\\partial h_t$ shrinks with every step of the unrolled network.">
        <img src="f.png" alt="{good}"></article> <img src="../_static/icon.png">"""
    problems = alt_problems({"page.html": page})
    assert len(problems) == 5, problems
    for expected in ("file name", "no alt attribute", "empty", "too short", "raw TeX"):
        assert any(expected in p for p in problems), (expected, problems)
    assert "(after #fig-a)" in problems[0]
    assert not any("f.png" in p for p in problems)
