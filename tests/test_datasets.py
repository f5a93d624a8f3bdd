"""The offline data: checked texts, deterministic splits, verified files, an exact entropy rate."""
import hashlib

import numpy as np
import pytest

from grader import datasets


def test_python_docs_text_is_the_measured_one():
    text = datasets.python_docs_text()
    assert len(text) > 400_000 and "assignment statement" in text.lower()


def test_a_changed_text_is_refused_with_a_clear_message(monkeypatch):
    monkeypatch.setitem(datasets.SHA256, "python_docs", "0" * 64)
    with pytest.raises(datasets.DataError, match="differs from the one the course was measured on"):
        datasets.python_docs_text()
    assert len(datasets.python_docs_text(strict=False)) > 400_000


def test_docstring_corpus_has_every_label():
    corpus = datasets.docstring_corpus()
    labels = {label for label, _, _ in corpus}
    assert labels == set(datasets.DOCSTRING_PACKAGES)
    assert all(len(doc) >= datasets.MIN_DOCSTRING for _, _, doc in corpus)


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
