"""Accessibility fixes (WCAG 2.1 AA) that the theme and docutils leave to the site; checked by
axe-core and a keyboard walk in ``tests/test_browser.py``.

- Bibliography entries: docutils gives each citation the DPUB role ``doc-biblioentry``, deprecated
  in DPUB-ARIA 1.1, inside an element with ``role="list"``. A list must hold list items, so a
  screen reader is handed a broken list (axe: aria-required-children, critical). Each entry
  becomes a ``listitem``.
- ``static/accessible.css``: a visible focus ring on the header buttons (download, launch,
  repository, sidebar toggles) and the search fields, which the theme leaves without one
  (WCAG 2.4.7, focus visible).
"""
from pathlib import Path

STATIC = Path(__file__).parent / "static"
CSS = "accessible.css"


def _add_static(app):
    app.config.html_static_path.append(str(STATIC))
    app.add_css_file(CSS)


def _citations_as_list_items(app, pagename, templatename, context, doctree):
    if "body" in context:
        context["body"] = context["body"].replace('role="doc-biblioentry"', 'role="listitem"')


def setup(app):
    app.connect("builder-inited", _add_static)
    app.connect("html-page-context", _citations_as_list_items)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
