"""Keep the built site self-contained, so it works for a student offline.

- MathJax 3 is served from the site itself (copied from the pinned ``django-static-mathjax``
  wheel, which ships MathJax 3.2.2 and needs no Django) instead of Jupyter Book's CDN.
- Thebe (live code) is switched off: its bundle comes from a CDN, and sphinx-thebe 0.3.1
  declares its configuration twice on every page, a console error.
"""
import importlib.util
import shutil
from pathlib import Path

SUBDIR = "mathjax"
# Only what tex-chtml needs at run time: the bundle, lazily loaded TeX extensions, fonts, menu, a11y.
KEEP = ("tex-chtml.js", "input", "output/chtml", "a11y", "ui", "sre", "adaptors", "core.js", "startup.js")


def mathjax_es5():
    spec = importlib.util.find_spec("mathjax")  # not imported: it is a Django app we only take files from
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax not found: install requirements.txt (django-static-mathjax)")
    return Path(spec.submodule_search_locations[0]) / "static" / "mathjax" / "es5"


def _configure(app, config):
    config.mathjax_path = f"{SUBDIR}/tex-chtml.js"


def _drop_thebe(app, config):
    for listeners in app.events.listeners.values():
        listeners[:] = [l for l in listeners if getattr(l.handler, "__module__", "") != "sphinx_thebe"]
    app.registry.css_files[:] = [(name, attrs) for name, attrs in app.registry.css_files
                                 if "thebe" not in (name or "")]


def _copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    source, target = mathjax_es5(), Path(app.outdir) / "_static" / SUBDIR
    for name in KEEP:
        src, dst = source / name, target / name
        if dst.exists() or not src.exists():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copyfile)(src, dst)


def setup(app):
    app.connect("config-inited", _configure, priority=900)
    app.connect("config-inited", _drop_thebe, priority=901)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
