"""The course's stored texts travel with it: stored once in grader/data, linked from solutions/,
copied next to each released notebook, and read by those notebooks into exactly the data that
grader.datasets gives.

Needs only numpy and pytest, so `make pythons` runs it on every supported Python (without torch):
the notebooks' data lines are run alone, every setup-cell statement that does not name torch.
"""
import ast
import contextlib
import json
import re
from pathlib import Path

import pytest

from grader import datasets

REPO = Path(__file__).resolve().parents[1]
USES = {"ch01_naive_bayes": ["docstrings.json.gz"],  # assignment -> the stored files its notebook reads
        "ch02_ngram_language_models": ["python_docs.txt.gz"],
        "ch03_fixed_window_neural_lm": ["python_docs.txt.gz"]}
LICENCE = "LICENSE-Python-3.11.7.txt"
TORCH_NAMES = {"torch", "F"}


def _names(node):
    """Every name a statement uses or imports (first component of dotted ones)."""
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            yield n.id
        elif isinstance(n, ast.alias):
            yield n.name.split(".")[0]
        elif isinstance(n, ast.ImportFrom) and n.module:
            yield n.module.split(".")[0]


def data_namespace(folder, assignment):
    """Run, in the notebook's folder, each top-level statement of its setup cell that names no torch."""
    nb = json.loads((folder / assignment / f"{assignment}.ipynb").read_text())
    setup = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup")
    kept = [node for node in ast.parse("".join(setup["source"])).body if not TORCH_NAMES & set(_names(node))]
    namespace = {}
    with contextlib.chdir(folder / assignment):
        exec(compile(ast.Module(body=kept, type_ignores=[]), f"{assignment} setup", "exec"), namespace)
    return namespace


def test_each_text_is_stored_once_with_its_checksum_and_licence():
    assert sorted(p.name for p in datasets.DATA.iterdir()) == sorted(
        [*datasets.STORED.values(), "SHA256SUMS", LICENCE, "README.md"])
    assert set(datasets.recorded_sha256()) == set(datasets.STORED)
    assert "PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2" in (datasets.DATA / LICENCE).read_text()


@pytest.mark.parametrize("assignment", sorted(USES))
def test_solutions_link_to_the_stored_files(assignment):
    for filename in [*USES[assignment], LICENCE]:
        path = REPO / "solutions" / assignment / filename
        assert path.is_symlink() and path.resolve() == datasets.DATA / filename, \
            f"solutions/{assignment}/{filename} must be a link to grader/data/{filename} (stored once)"


@pytest.mark.parametrize("assignment", sorted(USES))
def test_each_release_carries_the_stored_bytes(assignment):
    for filename in [*USES[assignment], LICENCE]:
        released = REPO / "exercises" / assignment / filename
        assert released.read_bytes() == (datasets.DATA / filename).read_bytes(), \
            f"exercises/{assignment}/{filename} differs from grader/data: run `make release`"


def test_no_other_release_carries_data():
    for folder in (REPO / "exercises").iterdir():
        if folder.name not in USES:
            assert [p.name for p in folder.iterdir()] == [f"{folder.name}.ipynb"]


@pytest.mark.parametrize("folder", ["solutions", "exercises"])
def test_chapter1_notebook_reads_the_course_corpus(folder):
    ns = data_namespace(REPO / folder, "ch01_naive_bayes")
    corpus = datasets.docstring_corpus()
    assert ns["corpus"] == corpus and len(corpus) == 632
    assert tuple(ns["PACKAGES"]) == datasets.DOCSTRING_PACKAGES
    assert [ns["train"], ns["dev"], ns["test"]] == datasets.split(corpus)
    for part, labels in (("train", "y_train"), ("dev", "y_dev"), ("test", "y_test")):
        assert list(ns[labels]) == [datasets.DOCSTRING_PACKAGES.index(lab) for lab, _, _ in ns[part]]


@pytest.mark.parametrize("folder", ["solutions", "exercises"])
def test_chapter2_notebook_reads_the_course_text(folder):
    ns = data_namespace(REPO / folder, "ch02_ngram_language_models")
    lines = datasets.python_docs_text().split("\n")
    assert ns["docs_text"] == datasets.python_docs_text()
    assert ns["train_sentences"] == [list(line) for line in lines[:3000]]
    assert ns["vocab"] == sorted({ch for line in lines[:3000] for ch in line}) + ["</s>"]


@pytest.mark.parametrize("folder", ["solutions", "exercises"])
def test_chapter3_notebook_reads_the_course_text(folder):
    ns = data_namespace(REPO / folder, "ch03_fixed_window_neural_lm")
    assert ns["TEXT"] == datasets.python_docs_text()
    assert ns["TRAIN_TEXT"] + ns["HELD_OUT_TEXT"] == datasets.python_docs_text()[:20_000]


def test_a_notebook_without_its_data_file_says_where_to_put_it(tmp_path):
    (tmp_path / "ch03_fixed_window_neural_lm").mkdir()
    notebook = REPO / "exercises" / "ch03_fixed_window_neural_lm" / "ch03_fixed_window_neural_lm.ipynb"
    (tmp_path / "ch03_fixed_window_neural_lm" / notebook.name).write_bytes(notebook.read_bytes())
    with pytest.raises(FileNotFoundError, match="python_docs.txt.gz is not in .*put it next to the notebook"):
        data_namespace(tmp_path, "ch03_fixed_window_neural_lm")


def test_the_supported_pythons_are_stated_alike_and_the_site_builds_with_one():
    pyproject = (REPO / "pyproject.toml").read_text()
    supported = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject)
    assert supported and f'requires-python = ">={supported[0]}"' in pyproject
    assert f"**{', '.join(supported[:-1])} or {supported[-1]}**" in (REPO / "README.md").read_text()
    workflow = (REPO / ".github" / "workflows" / "publish-site.yml").read_text()
    assert re.findall(r'python-version: "([\d.]+)"', workflow) in ([v] for v in supported)
