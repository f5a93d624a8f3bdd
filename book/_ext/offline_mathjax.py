"""Serve MathJax from the built site itself, so pages typeset offline.

Jupyter Book's default loads MathJax 3 from a CDN. We ship MathJax 2.7 from the
``jupyter-server-mathjax`` wheel (a pinned requirement) and point Sphinx at it.
"""
import shutil
from pathlib import Path

import jupyter_server_mathjax

MATHJAX_DIR = Path(jupyter_server_mathjax.__file__).parent / "static"
SUBDIR = "mathjax"


def _use_local_mathjax(app, config):
    # The wheel ships this one combined configuration, HTML-CSS output and STIX-Web fonts only.
    config.mathjax_path = f"{SUBDIR}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
    # MathJax 2 reads its own configuration: drop the MathJax 3 one that MyST would inject
    # (with the "ignore everything but .math" classes that only MathJax 3 understands).
    config.mathjax3_config = None
    config.myst_update_mathjax = False
    config.mathjax2_config = {
        "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                    "processEscapes": True},
        "HTML-CSS": {"linebreaks": {"automatic": True}, "availableFonts": ["STIX-Web"],
                     "preferredFont": "STIX-Web", "webFont": "STIX-Web", "imageFont": None},
        "messageStyle": "none",
    }


def _copy_mathjax(app, exception):
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / SUBDIR
        if not (target / "MathJax.js").exists():
            shutil.copytree(MATHJAX_DIR, target, dirs_exist_ok=True)


def setup(app):
    app.connect("config-inited", _use_local_mathjax, priority=900)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
