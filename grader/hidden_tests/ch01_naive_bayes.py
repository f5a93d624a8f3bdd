"""Hidden tests for the chapter 1 exercise (tokenize, count_matrix, fit_naive_bayes, predict, confusion_matrix).

The inputs come from ``grader.probes.ch01_naive_bayes`` (the half that runs in the student's kernel);
``judge_<part>`` rebuilds them from the seeds and compares what the student's function returned
with ``grader.reference``.
"""
import re

import numpy as np

from grader.hidden_tests import diagnose, kind, one_per_case
from grader.probes.ch01_naive_bayes import (ALPHAS, SEEDS, predict_cases, random_documents, random_labels,
                                            random_training_set, tokenize_texts)
from grader.reference import ch01_naive_bayes as ref


def _incomplete(part, n):
    raise AssertionError(f"{part}: the grader did not receive the {n} results it asked for; "
                         "run the notebook from the top without changing the test cells.")


# --- tokenize -------------------------------------------------------------------------------

# Known wrong tokenizers, as students write them.
TOKENIZE_MISTAKES = {
    "a tokenizer that does not lowercase (\"Teddy\" must become \"teddy\")":
        lambda s: re.findall(r"[A-Za-z]+", s),
    "matching [a-z]+ before lowercasing, which drops the capital letters (\"Teddy\" became \"eddy\")":
        lambda s: [t.lower() for t in re.findall(r"[a-z]+", s)],
    "runs of word characters (\\w+), which keep digits and underscores inside tokens":
        lambda s: re.findall(r"\w+", s.lower()),
    "runs of letters and digits: digits must end a token too":
        lambda s: re.findall(r"[a-z0-9]+", s.lower()),
    "splitting on whitespace, which keeps punctuation and digits attached to words":
        lambda s: s.lower().split(),
}


def _same_tokens(got, wrong):
    try:
        got = list(got)
    except TypeError:
        return ""
    for mistake, tokens in wrong.items():
        if got == tokens:
            return f"your result matches {mistake}."
    return ""


def judge_tokenize(got, check_close):
    texts = tokenize_texts()
    for text, out in one_per_case(got, texts, "tokenize"):
        wrong = {m: f(text) for m, f in TOKENIZE_MISTAKES.items()}
        hint = _same_tokens(out, wrong) or (
            "lowercase the whole text, then keep the maximal runs of the letters a-z; every other "
            "character (digit, underscore, apostrophe, punctuation, space) ends a token.")
        check_close(f"tokenize({text!r})", out, ref.tokenize(text), (), hint)


# --- count_matrix ---------------------------------------------------------------------------

def count_mistakes(docs, vocab):
    X = ref.count_matrix(docs, vocab)
    order = [vocab.index(w) for w in sorted(vocab)]
    return {
        "presence (0 or 1) instead of counts: a word that occurs three times must count 3": (X > 0).astype(float),
        "columns in alphabetical order instead of the order of vocab (column j is vocab[j])": X[:, order],
        "the transpose, shape (V, N): rows must be documents and columns vocabulary words": X.T,
    }


def judge_count_matrix(got, check_close):
    """``got``: one {"returned": X} per seed, up to a {"raised": name, "message": text} that ends the list."""
    got = got if isinstance(got, (list, tuple)) else []
    for i, seed in enumerate(SEEDS):
        entry = got[i] if i < len(got) else {}
        if not isinstance(entry, dict) or not ("returned" in entry or {"raised", "message"} <= set(entry)):
            _incomplete("count_matrix", len(SEEDS))
        if "raised" in entry:
            raise AssertionError(
                f"count_matrix raised {entry['raised']}: {entry['message']} on a document with a word outside the "
                "vocabulary. Hint: skip tokens that are not in vocab (they have no column).")
        vocab, docs = random_documents(seed)
        out = entry["returned"]
        hint = diagnose(out, count_mistakes(docs, vocab)) or (
            "X[d, j] is how many times vocab[j] occurs in docs[d]; tokens outside vocab are skipped.")
        check_close(f"count_matrix on {len(docs)} documents with vocab {vocab}", out,
                    ref.count_matrix(docs, vocab), ("document", "word"), hint)


# --- fit_naive_bayes ------------------------------------------------------------------------

def prior_mistakes(X, y, K, alpha):
    N_c = np.bincount(y, minlength=K)
    T = ref.class_word_counts(X, y, K)
    return {
        "priors from word counts (each class's share of the training tokens) instead of document counts N_c / N":
            np.log(T.sum(axis=1) / T.sum()),
        "a uniform prior 1/K instead of the class frequencies N_c / N": np.log(np.full(K, 1 / K)),
        "probabilities N_c / N instead of their logarithms": N_c / len(y),
        "a smoothed prior (N_c + alpha) / (N + alpha K): smooth the likelihoods, not the prior":
            np.log((N_c + alpha) / (len(y) + alpha * K)),
    }


def likelihood_mistakes(X, y, K, alpha):
    V = X.shape[1]
    N_c = np.bincount(y, minlength=K)[:, None]
    T = ref.class_word_counts(X, y, K)
    T_c = T.sum(axis=1, keepdims=True)
    DF = ref.class_word_counts((X > 0).astype(float), y, K)
    right = ref.fit_naive_bayes(X, y, K, alpha)[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "no smoothing (alpha is ignored, so an unseen word gets log 0 = -inf)": np.log(T / T_c),
            "alpha added to the numerator only: divide T_cw + alpha by T_c + alpha V, so each row sums to 1":
                np.log((T + alpha) / T_c),
            "alpha added once to the denominator: divide by T_c + alpha V, not by T_c + alpha":
                np.log((T + alpha) / (T_c + alpha)),
            "normalising by the number of documents of the class instead of its number of words T_c":
                np.log((T + alpha) / (N_c + alpha * V)),
            "document frequencies (how many documents of the class contain the word): that is the "
            "Bernoulli event model; the multinomial model counts every occurrence":
                np.log((DF + alpha) / (DF.sum(axis=1, keepdims=True) + alpha * V)),
            "probabilities normalised over the classes (each column sums to 1) instead of over the vocabulary":
                np.log((T + alpha) / (T + alpha).sum(axis=0, keepdims=True)),
            "probabilities instead of their logarithms": np.exp(right),
            "a base-10 logarithm: use the natural log, np.log": right / np.log(10),
            "the transpose, shape (V, K): rows must be classes and columns words": right.T,
        }


def _two_arrays(result, name):
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise AssertionError(f"{name} must return a pair (log_prior, log_lik); got {kind(result)}.")
    return result


def judge_fit_naive_bayes(got, check_close):
    for seed, result in one_per_case(got, SEEDS, "fit_naive_bayes"):
        X, y, K = random_training_set(seed)
        alpha = ALPHAS[seed]
        got_prior, got_lik = _two_arrays(result, "fit_naive_bayes")
        log_prior, log_lik = ref.fit_naive_bayes(X, y, K, alpha)
        where = f"(N, V, K = {X.shape[0]}, {X.shape[1]}, {K}; alpha = {alpha})"
        hint = diagnose(got_prior, prior_mistakes(X, y, K, alpha)) or \
            "log_prior[c] = log(number of training documents of class c / number of documents)."
        check_close(f"log_prior on a random training set {where}", got_prior, log_prior, ("class",), hint)
        hint = diagnose(got_lik, likelihood_mistakes(X, y, K, alpha)) or (
            "log_lik[c, w] = log((T_cw + alpha) / (T_c + alpha V)), with T_cw the count of word w in the "
            "documents of class c, T_c the sum of that row and V the vocabulary size.")
        check_close(f"log_lik on a random training set {where}", got_lik, log_lik, ("class", "word"), hint)


# --- predict --------------------------------------------------------------------------------

def product_predict(X, log_prior, log_lik):
    """The mistake of multiplying probabilities: prior times the product of theta ** x."""
    with np.errstate(under="ignore", over="ignore", invalid="ignore"):
        joint = np.exp(log_prior) * np.prod(np.exp(log_lik)[None] ** X[:, None, :], axis=2)
    return np.argmax(joint, axis=1)


PREDICT_MISTAKES = {
    "multiplying probabilities instead of adding log probabilities: on a long document the product "
    "underflows to 0.0 for every class":
        product_predict,
    "a prediction that ignores the prior log P(c)":
        lambda X, lp, ll: np.argmax(X @ ll.T, axis=1),
    "a prediction that ignores how often a word occurs (x > 0 instead of the counts x)":
        lambda X, lp, ll: np.argmax((X > 0) @ ll.T + lp, axis=1),
    "argmin instead of argmax (the MAP class has the largest log score)":
        lambda X, lp, ll: np.argmin(X @ ll.T + lp, axis=1),
}


def judge_predict(got, check_close):
    cases = predict_cases()
    for (seed, length_kind, X, log_prior, log_lik), out in one_per_case(got, cases, "predict"):
        wrong = {m: f(X, log_prior, log_lik) for m, f in PREDICT_MISTAKES.items()}
        hint = diagnose(out, wrong) or (
            "the MAP class maximises log P(c) + sum_w x_w log P(w | c); add logs, never multiply probabilities.")
        length = int(X.sum(axis=1).max())
        check_close(f"predict on {len(X)} {length_kind} documents (up to {length} tokens; K = {len(log_prior)} "
                    "classes)", out, ref.predict(X, log_prior, log_lik), ("document",), hint)


# --- confusion_matrix -----------------------------------------------------------------------

def confusion_mistakes(y_true, y_pred, K):
    M = ref.confusion_matrix(y_true, y_pred, K)
    present = int(max(y_true.max(), y_pred.max())) + 1
    return {
        "the transpose: rows must be the true class and columns the predicted class": M.T,
        "fractions of all documents instead of counts": M / len(y_true),
        "a matrix sized by the classes that occur in the labels instead of n_classes": M[:present, :present],
    }


def judge_confusion_matrix(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "confusion_matrix"):
        y_true, y_pred, K = random_labels(seed)
        hint = diagnose(out, confusion_mistakes(y_true, y_pred, K)) or (
            "M[i, j] counts the documents of true class i that were predicted as class j.")
        check_close(f"confusion_matrix of {len(y_true)} labels, n_classes = {K}", out,
                    ref.confusion_matrix(y_true, y_pred, K), ("true class", "predicted class"), hint)
