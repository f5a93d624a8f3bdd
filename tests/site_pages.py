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
