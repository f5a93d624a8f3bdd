"""Chapter 1: the Naive Bayes reference against brute force and torch, the exercise's data against
grader.datasets, and the hidden tests against the reference and every catalogued mistake."""
import ast
import inspect
import re
from collections import Counter
from decimal import Decimal, getcontext
from pathlib import Path

import numpy as np
import pytest
import torch

from counting import counted
from grader import datasets
from grader.course import EXERCISES, REPO, SOLUTIONS
from grader.hidden_tests import ch01_naive_bayes as hidden
from grader.hidden_tests import check_part, diagnose, use_reference_parts
from grader.probes import ch01_naive_bayes as probes
from grader.reference import ch01_naive_bayes as ref
from submission_bank import load, setup_namespace

A = "ch01_naive_bayes"


@pytest.fixture(scope="module")
def notebook():
    return setup_namespace(SOLUTIONS, A)


@pytest.fixture(scope="module")
def check_close(notebook):
    """The notebook's own check_close, taken from the source notebook's setup cell."""
    return notebook["check_close"]


# --- the exercise's data is the course's data ------------------------------------------------

@pytest.mark.parametrize("folder", [SOLUTIONS, EXERCISES])
def test_notebook_corpus_equals_the_datasets_corpus(folder):
    ns = setup_namespace(folder, A)
    corpus = datasets.docstring_corpus()  # checked against the SHA-256 the book was measured on
    assert ns["corpus"] == corpus
    assert tuple(ns["PACKAGES"]) == datasets.DOCSTRING_PACKAGES
    assert [ns["train"], ns["dev"], ns["test"]] == datasets.split(corpus)
    for part, labels in (("train", "y_train"), ("dev", "y_dev"), ("test", "y_test")):
        assert list(ns[labels]) == [datasets.DOCSTRING_PACKAGES.index(lab) for lab, _, _ in ns[part]]


def test_notebook_setup_imports_nothing_from_the_course():
    setup = load(EXERCISES, A).cells[1].source
    assert not re.search(r"^\s*(import|from)\s+grader\b", setup, re.M)


# --- the reference against brute force and torch ----------------------------------------------

def brute_tokenize(text):
    """Character by character: a letter a-z (after lowercasing) extends the word, anything else ends it."""
    words, current = [], ""
    for ch in text.lower():
        if "a" <= ch <= "z":
            current += ch
        elif current:
            words.append(current)
            current = ""
    return words + ([current] if current else [])


def test_tokenize_matches_a_character_loop_on_the_whole_corpus():
    for _, _, doc in datasets.docstring_corpus():
        assert ref.tokenize(doc) == brute_tokenize(doc)
    for seed in range(20):
        text = probes.random_text(seed)
        assert ref.tokenize(text) == brute_tokenize(text)


def test_tokenize_examples_of_the_exercise():
    assert ref.tokenize("call_soon() returns 2 Handles.") == ["call", "soon", "returns", "handles"]
    assert ref.tokenize("don't") == ["don", "t"]
    assert ref.tokenize("") == [] and ref.tokenize("12 -- 3.4") == []


@pytest.mark.parametrize("seed", probes.SEEDS)
def test_count_matrix_matches_counter(seed):
    vocab, docs = probes.random_documents(seed)
    X = ref.count_matrix(docs, vocab)
    expected = np.array([[Counter(doc)[w] for w in vocab] for doc in docs])
    np.testing.assert_array_equal(X, expected)


def test_build_vocabulary_ranks_by_frequency_then_alphabet():
    docs = [["b", "a", "c", "b"], ["c", "d"]]
    assert ref.build_vocabulary(docs) == ["b", "c", "a", "d"]
    assert ref.build_vocabulary(docs, max_size=2) == ["b", "c"]


def brute_fit(X, y, K, alpha):
    """Naive Bayes by explicit loops over documents and words."""
    N, V = X.shape
    log_prior, log_lik = np.zeros(K), np.zeros((K, V))
    for c in range(K):
        docs = [d for d in range(N) if y[d] == c]
        log_prior[c] = np.log(len(docs) / N)
        T = [sum(X[d, w] for d in docs) for w in range(V)]
        for w in range(V):
            log_lik[c, w] = np.log((T[w] + alpha) / (sum(T) + alpha * V))
    return log_prior, log_lik


@pytest.mark.parametrize("seed", probes.SEEDS + (7, 8))
@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.01])
def test_fit_matches_brute_force(seed, alpha):
    X, y, K = probes.random_training_set(seed)
    for got, expected in zip(ref.fit_naive_bayes(X, y, K, alpha), brute_fit(X, y, K, alpha)):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def multinomial_log_likelihood(X, y, theta):
    return sum(X[d] @ np.log(theta[y[d]]) for d in range(len(y)))


def test_unsmoothed_estimate_maximises_the_likelihood():
    """alpha -> 0 gives relative frequencies, and any move inside the simplex lowers the likelihood."""
    X, y, K = probes.random_training_set(5)
    X = X + 1  # every count positive, so the maximum is inside the simplex
    theta = np.exp(ref.fit_naive_bayes(X, y, K, alpha=1e-12)[1])
    best = multinomial_log_likelihood(X, y, theta)
    rng = np.random.default_rng(0)
    for _ in range(50):
        step = rng.normal(size=theta.shape)
        step -= step.mean(axis=1, keepdims=True)  # stays on the simplex: rows still sum to 1
        moved = theta + 1e-3 * step
        assert multinomial_log_likelihood(X, y, moved) < best


def test_add_alpha_is_the_map_estimate_under_a_dirichlet_prior():
    """(T_cw + alpha) / (T_c + alpha V) maximises sum_w (T_cw + alpha) log theta_w: a Dirichlet(alpha + 1) prior."""
    X, y, K = probes.random_training_set(6)
    alpha = 0.7
    theta = np.exp(ref.fit_naive_bayes(X, y, K, alpha)[1])
    T = ref.class_word_counts(X, y, K)
    objective = lambda th: ((T + alpha) * np.log(th)).sum()  # noqa: E731
    rng = np.random.default_rng(1)
    for _ in range(50):
        step = rng.normal(size=theta.shape)
        step -= step.mean(axis=1, keepdims=True)
        assert objective(theta + 1e-4 * step) < objective(theta)


@pytest.mark.parametrize("seed", probes.SEEDS)
def test_predict_matches_torch_multinomial(seed):
    log_prior, log_lik = probes.random_model(seed)
    for X in (probes.short_documents(seed, log_lik), probes.long_documents(seed, log_lik)):
        multinomial = torch.distributions.Multinomial(probs=torch.from_numpy(np.exp(log_lik)), validate_args=False)
        scores = multinomial.log_prob(torch.from_numpy(X).double()[:, None, :]).numpy() + log_prior
        np.testing.assert_array_equal(ref.predict(X, log_prior, log_lik), scores.argmax(axis=1))
        # the multinomial coefficient is the same for every class: the scores differ by one constant per row
        offset = scores - ref.joint_log_scores(X, log_prior, log_lik)
        np.testing.assert_allclose(offset, offset[:, :1].repeat(len(log_prior), axis=1), atol=1e-8)


def test_long_documents_underflow_as_products_but_not_in_exact_arithmetic():
    """The hidden long documents: float64 products are 0.0 for every class; exact products (Decimal)
    are not, and their argmax is the log-space prediction."""
    getcontext().prec = 30
    log_prior, log_lik = probes.random_model(probes.SEEDS[0])
    X = probes.long_documents(probes.SEEDS[0], log_lik)
    with np.errstate(under="ignore"):
        floats = np.exp(log_prior) * np.prod(np.exp(log_lik)[None] ** X[:, None, :], axis=2)
    assert (floats == 0).all()
    theta = [[Decimal(float(p)) for p in row] for row in np.exp(log_lik)]
    exact = [[Decimal(float(np.exp(log_prior[c])))
              * np.prod([theta[c][w] ** int(x[w]) for w in range(len(x))]) for c in range(len(log_prior))]
             for x in X]
    assert all(value > 0 for row in exact for value in row)
    np.testing.assert_array_equal([int(np.argmax(row)) for row in exact], ref.predict(X, log_prior, log_lik))
    assert (ref.predict(X, log_prior, log_lik) != 0).any()  # the product's answer (class 0) is wrong


def test_log_posterior_is_a_stable_softmax():
    log_prior, log_lik = probes.random_model(probes.SEEDS[1])
    X = probes.long_documents(probes.SEEDS[1], log_lik)
    lp = ref.log_posterior(X, log_prior, log_lik)
    expected = torch.log_softmax(torch.from_numpy(ref.joint_log_scores(X, log_prior, log_lik)), dim=1).numpy()
    assert np.isfinite(lp).all()
    np.testing.assert_allclose(lp, expected, atol=1e-9)


@pytest.mark.parametrize("seed", probes.SEEDS)
def test_confusion_matrix_matches_histogram2d(seed):
    y_true, y_pred, K = probes.random_labels(seed)
    M = ref.confusion_matrix(y_true, y_pred, K)
    np.testing.assert_array_equal(M, np.histogram2d(y_true, y_pred, bins=K, range=[[0, K], [0, K]])[0])
    assert np.trace(M) / M.sum() == ref.accuracy(y_true, y_pred)
    np.testing.assert_array_equal(M.sum(axis=1), np.bincount(y_true, minlength=K))  # rows are the truth


def test_the_chapter_numbers():
    """The accuracies quoted in the exercise's 'Putting it together' and in the chapter."""
    corpus = datasets.docstring_corpus()
    train, dev, test = datasets.split(corpus)
    packages = datasets.DOCSTRING_PACKAGES
    tokens = {name: [ref.tokenize(doc) for _, _, doc in part] for name, part in
              (("train", train), ("dev", dev), ("test", test))}
    labels = {name: np.array([packages.index(lab) for lab, _, _ in part]) for name, part in
              (("train", train), ("dev", dev), ("test", test))}
    vocab = sorted({t for doc in tokens["train"] for t in doc})
    model = ref.fit_naive_bayes(ref.count_matrix(tokens["train"], vocab), labels["train"], len(packages), 1.0)
    acc = {name: ref.accuracy(labels[name], ref.predict(ref.count_matrix(tokens[name], vocab), *model))
           for name in ("dev", "test")}
    assert round(acc["dev"], 2) == 0.90 and round(acc["test"], 2) == 0.95
    assert round(np.mean(labels["test"] == 0), 2) == 0.30  # always answering asyncio


# --- the hidden tests: pass on the reference, fail on each known mistake with its name ---------

def test_hidden_tests_pass_on_the_reference(check_close, capsys):
    namespace, (checkers, calls) = {}, counted(check_close=check_close)
    for part in ("tokenize", "count_matrix", "fit_naive_bayes", "predict", "confusion_matrix"):
        before = len(calls)
        check_part(A, part, getattr(ref, part), namespace, **checkers)
        assert len(calls) > before, part
    assert capsys.readouterr().out.count("ok:") == len(calls)  # every check the judges made passed
    assert namespace["tokenize"] is ref.tokenize and namespace["predict"] is ref.predict


def words_of(mistake):
    return re.escape(mistake[:25])


@pytest.mark.parametrize("mistake", sorted(hidden.TOKENIZE_MISTAKES))
def test_hidden_tokenize_test_names_each_mistake(check_close, mistake):
    with pytest.raises(AssertionError, match="your result matches " + words_of(mistake)):
        check_part(A, "tokenize", hidden.TOKENIZE_MISTAKES[mistake], check_close=check_close)


def count_with(name):
    def student(docs, vocab):
        return hidden.count_mistakes(docs, vocab)[name]
    return student


@pytest.mark.parametrize("mistake", sorted(hidden.count_mistakes(*probes.random_documents(101)[::-1])))
def test_hidden_count_test_names_each_mistake(check_close, mistake):
    with pytest.raises(AssertionError, match="your result matches " + words_of(mistake)):
        check_part(A, "count_matrix", count_with(mistake), check_close=check_close)


def test_hidden_count_test_explains_a_key_error(check_close):
    def crashes(docs, vocab):
        column = {w: j for j, w in enumerate(vocab)}
        X = np.zeros((len(docs), len(vocab)))
        for d, tokens in enumerate(docs):
            for t in tokens:
                X[d, column[t]] += 1
        return X
    with pytest.raises(AssertionError, match="skip tokens that are not in vocab"):
        check_part(A, "count_matrix", crashes, check_close=check_close)


def fit_with(prior_mistake=None, lik_mistake=None):
    def student(X, y, K, alpha):
        log_prior, log_lik = ref.fit_naive_bayes(X, y, K, alpha)
        if prior_mistake:
            log_prior = hidden.prior_mistakes(X, y, K, alpha)[prior_mistake]
        if lik_mistake:
            log_lik = hidden.likelihood_mistakes(X, y, K, alpha)[lik_mistake]
        return log_prior, log_lik
    return student


CASE = probes.random_training_set(probes.SEEDS[0])


@pytest.mark.parametrize("mistake", sorted(hidden.prior_mistakes(*CASE, 1.0)))
def test_hidden_fit_test_names_each_prior_mistake(check_close, mistake):
    with pytest.raises(AssertionError, match=r"log_prior.*your result matches " + words_of(mistake)):
        check_part(A, "fit_naive_bayes", fit_with(prior_mistake=mistake), check_close=check_close)


@pytest.mark.parametrize("mistake", sorted(hidden.likelihood_mistakes(*CASE, 1.0)))
def test_hidden_fit_test_names_each_likelihood_mistake(check_close, mistake):
    with pytest.raises(AssertionError, match=r"log_lik.*your result matches " + words_of(mistake)):
        check_part(A, "fit_naive_bayes", fit_with(lik_mistake=mistake), check_close=check_close)


def test_hidden_fit_test_wants_a_pair(check_close):
    with pytest.raises(AssertionError, match="must return a pair"):
        check_part(A, "fit_naive_bayes", lambda X, y, K, alpha: ref.fit_naive_bayes(X, y, K, alpha)[1],
                   check_close=check_close)


@pytest.mark.parametrize("mistake", sorted(hidden.PREDICT_MISTAKES))
def test_hidden_predict_test_names_each_mistake(check_close, mistake):
    with pytest.raises(AssertionError, match="your result matches " + words_of(mistake)):
        check_part(A, "predict", hidden.PREDICT_MISTAKES[mistake], check_close=check_close)


def test_the_product_mistake_passes_short_documents_and_fails_only_long_ones(check_close):
    for seed in probes.SEEDS:
        log_prior, log_lik = probes.random_model(seed)
        X = probes.short_documents(seed, log_lik)
        np.testing.assert_array_equal(hidden.product_predict(X, log_prior, log_lik), ref.predict(X, log_prior, log_lik))
    with pytest.raises(AssertionError, match=r"long documents.*underflows to 0\.0"):
        check_part(A, "predict", hidden.product_predict, check_close=check_close)


@pytest.mark.parametrize("mistake", sorted(hidden.confusion_mistakes(*probes.random_labels(101))))
def test_hidden_confusion_test_names_each_mistake(check_close, mistake):
    student = lambda y_true, y_pred, K: hidden.confusion_mistakes(y_true, y_pred, K)[mistake]  # noqa: E731
    with pytest.raises(AssertionError, match="your result matches " + words_of(mistake)):
        check_part(A, "confusion_matrix", student, check_close=check_close)


@pytest.mark.parametrize("seed", probes.SEEDS)
def test_every_known_mistake_changes_the_output(seed):
    """A 'mistake' equal to the right answer would make its diagnosis meaningless, in every case."""
    text = probes.random_text(seed)
    for name, f in hidden.TOKENIZE_MISTAKES.items():
        assert f(text) != ref.tokenize(text), name
    vocab, docs = probes.random_documents(seed)
    right = ref.count_matrix(docs, vocab)
    for name, wrong in hidden.count_mistakes(docs, vocab).items():
        assert wrong.shape != right.shape or not np.allclose(wrong, right), name
    X, y, K = probes.random_training_set(seed)
    alpha = probes.ALPHAS[seed]
    log_prior, log_lik = ref.fit_naive_bayes(X, y, K, alpha)
    for name, wrong in hidden.prior_mistakes(X, y, K, alpha).items():
        assert not np.allclose(wrong, log_prior), name
    for name, wrong in hidden.likelihood_mistakes(X, y, K, alpha).items():
        assert wrong.shape != log_lik.shape or not np.allclose(wrong, log_lik), name
    lp, ll = probes.random_model(seed)
    short, long = probes.short_documents(seed, ll), probes.long_documents(seed, ll)
    for name, f in hidden.PREDICT_MISTAKES.items():
        X_case = long if name.startswith("multiplying") else short
        assert (f(X_case, lp, ll) != ref.predict(X_case, lp, ll)).any(), name
    y_true, y_pred, K = probes.random_labels(seed)
    M = ref.confusion_matrix(y_true, y_pred, K)
    for name, wrong in hidden.confusion_mistakes(y_true, y_pred, K).items():
        assert wrong.shape != M.shape or not np.allclose(wrong, M), name


def test_diagnose_names_nothing_for_an_unknown_answer():
    X, y, K = probes.random_training_set(101)
    assert diagnose(np.zeros(K), hidden.prior_mistakes(X, y, K, 1.0)) == ""


def test_later_parts_are_graded_on_reference_earlier_parts(check_close):
    """A wrong tokenize or count_matrix must not cost points again in later parts."""
    namespace = {"tokenize": hidden.TOKENIZE_MISTAKES[sorted(hidden.TOKENIZE_MISTAKES)[0]],
                 "count_matrix": count_with(sorted(hidden.count_mistakes(*probes.random_documents(101)[::-1]))[0])}
    check_part(A, "fit_naive_bayes", ref.fit_naive_bayes, namespace, check_close=check_close)
    assert namespace["tokenize"] is ref.tokenize and namespace["count_matrix"] is ref.count_matrix
    use_reference_parts(namespace, predict=None)
    assert namespace["predict"] is None
    check_part(A, "confusion_matrix", ref.confusion_matrix, namespace, check_close=check_close)
    assert namespace["predict"] is ref.predict and namespace["fit_naive_bayes"] is ref.fit_naive_bayes


# --- the split: the probes run in the student's kernel, the judges in the grader ---------------

def test_probe_module_holds_no_reference_code():
    """The probe module is readable by student code when grading: it imports nothing that knows the answers."""
    tree = ast.parse(Path(probes.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"copy", "numpy", "grader.probes"}, imported
    for part, earlier in probes.PARTS.items():
        assert all(inspect.isfunction(getattr(ref, name)) for name in earlier), part


@pytest.mark.parametrize("kind", [tuple, iter])
def test_tokens_as_a_tuple_or_a_generator_are_accepted(check_close, kind):
    check_part(A, "tokenize", lambda text: kind(ref.tokenize(text)), check_close=check_close)


def test_inputs_are_fresh_copies_for_every_call(check_close):
    """A function that overwrites its inputs after answering must not spoil the next call or the judge."""
    def fit_then_scribble(X, y, K, alpha):
        result = ref.fit_naive_bayes(X, y, K, alpha)
        X[:], y[:] = 0, 0
        return result

    def count_then_clear(docs, vocab):
        X = ref.count_matrix(docs, vocab)
        docs.clear(), vocab.reverse()
        return X

    def predict_then_scribble(X, log_prior, log_lik):
        result = ref.predict(X, log_prior, log_lik)
        X[:], log_prior[:], log_lik[:] = 0, 0, 0
        return result

    check_part(A, "fit_naive_bayes", fit_then_scribble, check_close=check_close)
    check_part(A, "count_matrix", count_then_clear, check_close=check_close)
    check_part(A, "predict", predict_then_scribble, check_close=check_close)


def test_count_matrix_failure_order_is_kept(check_close):
    """A wrong first answer is reported before a crash on a later seed, as when the calls were in the test."""
    calls = []

    def wrong_then_crash(docs, vocab):
        calls.append(1)
        if len(calls) > 1:
            raise KeyError("bird")
        return hidden.count_mistakes(docs, vocab)[sorted(hidden.count_mistakes(docs, vocab))[0]]

    with pytest.raises(AssertionError, match="your result matches "):
        check_part(A, "count_matrix", wrong_then_crash, check_close=check_close)
    assert len(calls) == 2  # the probe stopped at the crash


@pytest.mark.parametrize("part", ["tokenize", "count_matrix", "fit_naive_bayes", "predict", "confusion_matrix"])
@pytest.mark.parametrize("report", [None, [], {}, "ok", [{}]])
def test_judges_fail_a_report_the_probe_cannot_have_sent(check_close, part, report):
    """A submission that replaces the probe can only send values: too few of them fail the part."""
    with pytest.raises(AssertionError):
        getattr(hidden, f"judge_{part}")(report, check_close)


# --- the chapter page ---------------------------------------------------------------------

def test_chapter_defines_no_graded_function():
    page = (REPO / "book" / f"{A}.md").read_text()
    for name in ("tokenize", "count_matrix", "fit_naive_bayes", "predict", "confusion_matrix"):
        assert not re.search(rf"^\s*def {name}\(", page, re.M), name
    assert "{bibliography}" in page and "torch.set_num_threads(1)" in page

