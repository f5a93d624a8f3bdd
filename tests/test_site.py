"""The book builds with warnings as errors, works offline, and shows students no solution."""
import json
import re
from ast import literal_eval

import pytest

from grader.course import assignments
from grader.leaks import leaked, region_lines, visible_text

from site_pages import pages, tables

CHAPTER = "book/ch04_recurrent_networks.html"
EXERCISE = "exercises/ch04_recurrent_networks/ch04_recurrent_networks.html"


def test_chapter_and_exercise_pages_are_built(html_dir):
    built = pages(html_dir)
    for page in ("index.html", "book/intro.html", CHAPTER, EXERCISE):
        assert page in built, sorted(built)


def test_chapter_has_figures_math_and_citations(html_dir):
    page = (html_dir / CHAPTER).read_text()
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', page)
    assert len(images) >= 3, images
    for src in images:
        assert (html_dir / "book" / src).resolve().is_file(), src
    assert page.count('class="math') >= 10
    assert 'class="citation-list"' in page and "Finding structure in time" in visible_text(page)


def test_exercise_page_shows_the_stubs_not_run(html_dir):
    page = (html_dir / EXERCISE).read_text()
    assert visible_text(page).count("raise NotImplementedError()") >= 4
    assert 'class="cell_output' in (html_dir / CHAPTER).read_text()  # the marker is right
    assert 'class="cell_output' not in page  # never executed: no outputs at all


@pytest.mark.parametrize("kind", ["solution", "hidden"])
def test_site_leaks_nothing(html_dir, kind):
    lines = set().union(*(region_lines(a, kind) for a in assignments()))
    for name, page in pages(html_dir).items():
        assert not leaked(lines, visible_text(page)), name


def test_site_loads_nothing_from_the_internet(html_dir):
    """MathJax included: students offline must still see typeset equations."""
    remote = re.compile(r'<(script|link|img)\b[^>]*\b(src|href)="(https?:)?//', re.I)
    for name, page in pages(html_dir).items():
        tags = [m.group(0) for m in remote.finditer(page)]
        assert not tags, (name, tags[:3])
    assert (html_dir / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert re.search(r'<script[^>]+src="[^"]*_static/mathjax/tex-chtml\.js', (html_dir / CHAPTER).read_text())


def test_publish_copies_the_site_without_build_reports(html_dir, tmp_path):
    from grader.publish import publish

    out = publish(html_dir, tmp_path / "publish")
    assert (out / "index.html").is_file() and (out / EXERCISE).is_file()
    assert not (out / "reports").exists() and not (out / ".buildinfo").exists()
    assert not list(out.rglob("*solutions*"))


def test_publish_refuses_a_site_with_a_solution_line(html_dir, tmp_path):
    import shutil

    from grader.publish import LeakError, publish

    site = tmp_path / "html"
    shutil.copytree(html_dir, site, ignore=shutil.ignore_patterns("_static", "_images"))
    line = sorted(region_lines("ch04_recurrent_networks", "solution"))[0]
    (site / "book" / "leaky.html").write_text(f"<pre>{line}</pre>")
    with pytest.raises(LeakError, match="must not reach students"):
        publish(site, tmp_path / "publish")
    assert not (tmp_path / "publish").exists()


def test_every_exercise_follows_its_chapter_in_the_toc():
    from site_pages import toc_pages

    order = toc_pages()
    for assignment in assignments():
        exercise = f"exercises/{assignment}/{assignment}.html"
        assert exercise in order, f"{assignment} is not in _toc.yml"
        assert order[order.index(exercise) - 1] == f"book/{assignment}.html", f"{assignment} must follow its chapter"


CLOSING = "book/which_model_when.html"
SHARED_TASKS = {"charlm", "adding", "counting", "forecast", "esn", "depth"}
RESULTS = {"bpc", "steps", "reached", "maxn", "rmse", "mae", "nrmse"}  # not settings such as _params, _seeds
PASTED = re.compile(r'<span class="pasted-text">(.*?)</span>', re.S)
GLUE_REF = re.compile(r"\{glue:text\}`([\w./-]+\.md)::(\w+)")


def closing_page_glue_refs():
    """(document, key) of every glue reference on the closing page that is not inside an HTML comment."""
    from grader.course import REPO

    source = re.sub(r"<!--.*?-->", "", (REPO / "book" / "which_model_when.md").read_text(), flags=re.S)
    return GLUE_REF.findall(source)


def test_closing_page_tables_have_every_cell_filled(html_dir):
    """Every pasted result is there (a missing glue key leaves nothing behind) and reads as a result."""
    page = (html_dir / CLOSING).read_text()
    rows = [row for table in tables(page) for row in table]
    assert len(rows) >= 10, rows
    for row in rows:
        assert all(cell and cell.lower() not in {"nan", "none", "?"} for cell in row), row
    pasted = [" ".join(text.split()) for text in PASTED.findall(page)]
    assert len(pasted) == len(closing_page_glue_refs()) and pasted
    for text in pasted:
        assert re.fullmatch(r"\d+(\.\d+)?|never|\(\d+, \d+, \d+\)", text), text


def test_closing_page_shows_every_shared_result(html_dir):
    """A result a chapter glues for a shared task (``chNN_<task>_<model>_<metric>``) is pasted on the closing page."""
    executed = html_dir.parent / "jupyter_execute"
    glued = {}
    for cache in executed.rglob("*.glue.json"):
        document = cache.relative_to(executed).as_posix().removesuffix(".glue.json")
        for key in json.loads(cache.read_text()):
            parts = key.split("_")
            if len(parts) >= 4 and parts[1] in SHARED_TASKS and parts[-1] in RESULTS:
                glued[key] = document
    shown = {key: f"book/{doc.removesuffix('.md')}" for doc, key in closing_page_glue_refs()}
    assert glued, f"no glued results under {executed}"
    missing = sorted(key for key in glued if key not in shown)
    assert not missing, f"results glued but not on the closing page: {missing}"
    assert all(shown[key] == glued[key] for key in glued), {k: (shown[k], glued[k]) for k in glued}


def test_every_chapter_that_derives_links_the_notation_page_in_the_site(html_dir):
    """In the article itself, not only in the sidebar (which links every page)."""
    from test_course_pages import deriving_chapters

    built = pages(html_dir)
    checked = [f"book/{src.stem}.html" for src in deriving_chapters() if f"book/{src.stem}.html" in built]
    assert checked
    for name in checked:
        article = re.search(r"<article\b.*?</article>", built[name], re.S).group(0)
        assert 'href="notation.html' in article, name


def glued_values(html_dir, page):
    """The plain values (numbers, strings) a chapter glued; myst-nb stores them beside the executed notebooks."""
    data = json.loads((html_dir.parent / "jupyter_execute" / "book" / f"{page}.glue.json").read_text())
    return {key: literal_eval(value["data"]["text/plain"]) for key, value in data.items()}


def test_chapter_9_compares_its_lstms_with_chapter_5_as_its_text_says(html_dir):
    """Chapter 9 pastes chapter 5's numbers and cannot check its sentences about them itself: this test does."""
    glued = {**glued_values(html_dir, "ch05_training_rnn_language_models"), **glued_values(html_dir, "ch09_lstm")}
    kn6, rnn = glued["ch05_charlm_kn6_bpc"], glued["ch05_charlm_rnn_bpc"]
    lstm, lstm_small = glued["ch09_charlm_lstm_bpc"], glued["ch09_charlm_lstm_small_bpc"]
    assert kn6 < lstm < rnn < lstm_small, glued            # the order-6 model beats all; same width wins, same count loses
    assert 0.05 < rnn - lstm < 0.2, (rnn, lstm)            # "a gain of about a tenth of a bit"
    assert glued["ch05_charlm_order3_bpc"] < glued["ch05_charlm_unigram_bpc"]


def test_closing_page_guidance_holds_for_the_pasted_results(html_dir):
    """The closing page's sentences about depth and reservoirs state directions: the glued values must bear them out."""
    glued = {**glued_values(html_dir, "ch05_training_rnn_language_models"), **glued_values(html_dir, "ch09_lstm"),
             **glued_values(html_dir, "ch11_deep_recurrent_networks")}
    rnn, steps = glued["ch05_charlm_rnn_bpc"], glued["ch11_depth_steps"]
    assert glued["ch11_depth_stacked_bpc"] > rnn and glued["ch11_depth_dt_bpc"] > rnn, glued  # "both short of ..."
    assert steps * 5 == 1500, steps                                                    # "trained five times longer"
    assert glued["ch11_esn_temperature_rmse"] < glued["ch09_forecast_persistence_rmse"]
