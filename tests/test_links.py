"""Every internal link and cross-reference of the built site resolves, checked offline.

External links are listed in ``<build>/external_links.txt`` and printed, never fetched.
"""
import re
from urllib.parse import unquote

from site_pages import pages

LINK = re.compile(r'<(?:a|link|script|img|source)\b[^>]*?\b(?:href|src)="([^"]*)"', re.I)
EXTERNAL = ("http://", "https://", "//", "mailto:")


def check_links(html_dir):
    """(broken internal links, external URLs) of every page."""
    texts = pages(html_dir)
    ids = {}
    broken, external = [], set()
    for name, text in texts.items():
        for url in LINK.findall(text):
            if url.startswith(EXTERNAL):
                external.add(url)
                continue
            if not url or url.startswith(("javascript:", "data:")):
                continue
            path, _, anchor = url.partition("#")
            target = (html_dir / name).parent / unquote(path.split("?")[0]) if path else html_dir / name
            target = target.resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{name}: {url} (no such file)")
            elif anchor and target.suffix == ".html":
                rel = target.relative_to(html_dir.resolve()).as_posix()
                if rel not in ids:
                    ids[rel] = set(re.findall(r'\bid="([^"]+)"', texts.get(rel) or target.read_text()))
                if unquote(anchor) not in ids[rel]:
                    broken.append(f"{name}: {url} (no anchor #{anchor})")
    return broken, sorted(external)


def test_internal_links_and_cross_references_resolve(html_dir):
    broken, external = check_links(html_dir)
    (html_dir.parent / "external_links.txt").write_text("\n".join(external) + "\n")
    print(f"{len(external)} external links (not fetched), listed in {html_dir.parent / 'external_links.txt'}")
    assert not broken, broken


def test_the_checker_sees_a_broken_link(html_dir, tmp_path):
    """The check must be able to fail: a page with a dead link and a dead anchor."""
    import shutil

    site = tmp_path / "html"
    shutil.copytree(html_dir, site, ignore=shutil.ignore_patterns("_static", "_images"))
    (site / "broken.html").write_text('<a href="nowhere.html">x</a> <a href="index.html#no-such-id">y</a>')
    broken, _ = check_links(site)
    assert any("nowhere.html" in b for b in broken) and any("no-such-id" in b for b in broken)
