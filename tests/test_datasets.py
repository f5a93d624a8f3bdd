"""The offline data: stored and checked texts, deterministic splits, verified files, an exact entropy rate.

Run on every supported Python by `make pythons` (with numpy and pytest only), as well as in the main venv."""
import gzip
import hashlib
import sys

import numpy as np
import pytest

from grader import datasets


def test_python_docs_text_is_the_stored_one():
    text = datasets.python_docs_text()
    assert len(text) == 465_126 and "assignment statement" in text.lower()
    assert hashlib.sha256(text.encode()).hexdigest() == datasets.recorded_sha256()["python_docs"]


def test_docstring_corpus_has_every_label_and_each_text_once():
    corpus = datasets.docstring_corpus()
    assert len(corpus) == 632 and all(isinstance(item, tuple) and len(item) == 3 for item in corpus)
    assert {label for label, _, _ in corpus} == set(datasets.DOCSTRING_PACKAGES)
    assert all(len(doc) >= datasets.MIN_DOCSTRING for _, _, doc in corpus)
    assert len({doc for _, _, doc in corpus}) == len(corpus)
    assert corpus == sorted(corpus, key=lambda item: (datasets.DOCSTRING_PACKAGES.index(item[0]), item[1]))


def test_a_damaged_or_missing_file_is_refused_with_a_clear_message(tmp_path, monkeypatch):
    for name, filename in datasets.STORED.items():
        (tmp_path / filename).write_bytes(gzip.compress(b"[]"))
    (tmp_path / "SHA256SUMS").write_text((datasets.DATA / "SHA256SUMS").read_text())
    monkeypatch.setattr(datasets, "DATA", tmp_path)
    with pytest.raises(datasets.DataError, match="python_docs.txt.gz is damaged: its text's SHA-256 is"):
        datasets.python_docs_text()
    (tmp_path / "docstrings.json.gz").unlink()
    with pytest.raises(datasets.DataError, match="docstrings.json.gz is missing"):
        datasets.docstring_corpus()
    (tmp_path / "docstrings.json.gz").write_bytes(gzip.compress(b"[]")[:-4])  # cut short
    with pytest.raises(datasets.DataError, match="docstrings.json.gz is damaged: it is not a complete gzip file"):
        datasets.docstring_corpus()


def test_deduplicated_keeps_each_text_once_and_drops_texts_of_two_packages():
    corpus = [("a", "a.f", "one"), ("a", "a.g", "one"), ("a", "a.h", "two"), ("b", "b.f", "two"), ("b", "b.g", "three")]
    assert datasets.deduplicated(corpus) == [("a", "a.f", "one"), ("b", "b.g", "three")]


def test_the_interpreter_loaders_rebuild_the_stored_texts_on_the_python_they_came_from():
    """On 3.11.7 the running Python's texts are the stored ones (the files can be made again); on other
    versions they differ (3.12.1: 492,311 characters, 3.13.0: 510,742) and strict loading says so."""
    here = sys.version.split()[0]
    docs, corpus = datasets.python_docs_text_from_interpreter(), datasets.docstring_corpus_from_interpreter()
    if here == datasets.MEASURED_ON:
        assert docs == datasets.python_docs_text() and corpus == datasets.docstring_corpus()
        raw = [doc for package in datasets.DOCSTRING_PACKAGES for doc in datasets._module_docstrings(package).values()]
        assert (len(raw), len(set(raw)), len(corpus)) == (874, 634, 632)  # as chapter 1 says: deduplicated
    for same, loader in ((docs == datasets.python_docs_text(), datasets.python_docs_text_from_interpreter),
                         (corpus == datasets.docstring_corpus(), datasets.docstring_corpus_from_interpreter)):
        if same:
            assert loader(strict=True)
        else:
            with pytest.raises(datasets.DataError, match="differs from the one stored with the course"):
                loader(strict=True)


def test_split_is_deterministic_and_complete():
    items = list(range(101))
    a, b = datasets.split(items, seed=3), datasets.split(items, seed=3)
    assert a == b and sorted(sum(a, [])) == items
    assert [len(part) for part in a] == [81, 10, 10]
    assert datasets.split(items, seed=4) != a


def test_load_text_file_verifies_and_caches(tmp_path):
    sample = tmp_path / "tiny.txt"
    sample.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n")
    digest = hashlib.sha256(sample.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    assert datasets.load_text_file(sample, digest, cache_dir=cache).startswith("First Citizen")
    assert digest in (cache / "verified.json").read_text()
    with pytest.raises(datasets.DataError, match="different or damaged"):
        datasets.load_text_file(sample, "f" * 64, cache_dir=cache)
    with pytest.raises(datasets.DataError, match="not found"):
        datasets.load_text_file(tmp_path / "missing.txt", digest, cache_dir=cache)


def test_markov_source_stationary_distribution_is_stationary():
    source = datasets.Markov2Source(seed=1)
    pi = source.stationary_pairs()
    # one step of the pair chain: pi'(b, c) = sum_a pi(a, b) P(c | a, b)
    assert np.allclose(np.einsum("ab,abc->bc", pi, source.P), pi)
    assert np.isclose(pi.sum(), 1) and (pi >= 0).all()


def test_markov_entropy_rate_matches_the_sample_average():
    """Shannon-McMillan-Breiman: -1/n log2 p(sample) tends to the entropy rate."""
    source = datasets.Markov2Source(seed=0)
    text = source.sample(100_000, seed=5)
    idx = [source.alphabet.index(ch) for ch in text]
    bits = -np.mean(np.log2(source.P[idx[:-2], idx[1:-1], idx[2:]]))
    assert abs(bits - source.entropy_rate()) < 0.02
    assert 0 < source.entropy_rate() < np.log2(len(source.alphabet))
