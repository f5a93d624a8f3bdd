"""The built site's pages, as the table of contents lists them and as files on disk."""
from pathlib import Path

import yaml

from grader.course import REPO


def toc_pages():
    """Every page of ``_toc.yml`` as its built HTML path, in reading order."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
    for part in toc.get("parts", [toc]):
        walk(part.get("chapters", []))
    return [f"{Path(f).with_suffix('').as_posix()}.html" for f in files]


def pages(html_dir):
    """Relative path -> HTML text of every page (not theme assets)."""
    return {p.relative_to(html_dir).as_posix(): p.read_text() for p in Path(html_dir).rglob("*.html")
            if "_static" not in p.parts}


def tables(page):
    """The body rows of every HTML table of ``page``, each row the list of its cells' visible text.

    HTML comments are not content (the closing page keeps the rows of unmerged chapters in comments).
    """
    from html.parser import HTMLParser

    class Tables(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.found, self.row, self.cell, self.in_body = [], None, None, False

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.found.append([])
            elif tag == "tbody":
                self.in_body = True
            elif tag == "tr" and self.in_body:
                self.row = []
            elif tag in ("td", "th") and self.row is not None:
                self.cell = []

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.cell is not None:
                self.row.append(" ".join("".join(self.cell).split()))
                self.cell = None
            elif tag == "tr" and self.row is not None:
                self.found[-1].append(self.row)
                self.row = None
            elif tag == "tbody":
                self.in_body = False

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    parser = Tables()
    parser.feed(page)
    return parser.found
