"""Chapter 1, "Text as a bag of words: Naive Bayes": multinomial Naive Bayes by counting.

Notation as in the chapter: ``N`` documents, a vocabulary of ``V`` words, ``K`` classes.
``X`` (N, V) holds the counts x_{d,w}; ``y`` (N,) the class indices 0..K-1;
``log_prior`` (K,) is log P(c); ``log_lik`` (K, V) is log theta_{c,w} = log P(w | c).
"""
import re

import numpy as np

TOKEN = re.compile(r"[a-z]+")


def tokenize(text):
    """Lowercase ``text``, then return its maximal runs of the letters a-z, in order.

    Every other character (digit, underscore, apostrophe, space, punctuation) ends a token.
    """
    return TOKEN.findall(text.lower())


def build_vocabulary(token_lists, max_size=None):
    """The distinct words, most frequent first (ties alphabetical), cut to ``max_size``."""
    totals = {}
    for tokens in token_lists:
        for t in tokens:
            totals[t] = totals.get(t, 0) + 1
    ranked = sorted(totals, key=lambda w: (-totals[w], w))
    return ranked if max_size is None else ranked[:max_size]


def count_matrix(docs, vocab):
    """X[d, j] = how often ``vocab[j]`` occurs in the token list ``docs[d]``; other tokens are skipped."""
    column = {w: j for j, w in enumerate(vocab)}
    X = np.zeros((len(docs), len(vocab)), dtype=np.int64)
    for d, tokens in enumerate(docs):
        for t in tokens:
            if t in column:
                X[d, column[t]] += 1
    return X


def class_word_counts(X, y, n_classes):
    """T[c, w] = sum of x_{d,w} over the training documents d of class c."""
    T = np.zeros((n_classes, X.shape[1]))
    np.add.at(T, np.asarray(y), X)
    return T


def fit_naive_bayes(X, y, n_classes, alpha=1.0):
    """Log priors N_c / N and add-alpha smoothed log likelihoods (T_cw + alpha) / (T_c + alpha V)."""
    y = np.asarray(y)
    N_c = np.bincount(y, minlength=n_classes)
    T = class_word_counts(X, y, n_classes)
    V = X.shape[1]
    with np.errstate(divide="ignore"):  # an empty class gets log prior -inf
        log_prior = np.log(N_c / len(y))
    log_lik = np.log(T + alpha) - np.log(T.sum(axis=1, keepdims=True) + alpha * V)
    return log_prior, log_lik


def joint_log_scores(X, log_prior, log_lik):
    """log P(c) + sum_w x_{d,w} log theta_{c,w}: shape (N, K); the posterior up to a constant per row."""
    return np.asarray(X) @ log_lik.T + log_prior


def predict(X, log_prior, log_lik):
    """MAP class of every document (row of ``X``), computed in log space."""
    return np.argmax(joint_log_scores(X, log_prior, log_lik), axis=1)


def log_posterior(X, log_prior, log_lik):
    """log P(c | d) for every document, normalised with log-sum-exp (stable for long documents)."""
    s = joint_log_scores(X, log_prior, log_lik)
    m = s.max(axis=1, keepdims=True)
    return s - (m + np.log(np.exp(s - m).sum(axis=1, keepdims=True)))


def confusion_matrix(y_true, y_pred, n_classes):
    """M[i, j] = number of documents of true class i predicted as class j (rows: the truth)."""
    M = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(M, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return M


def accuracy(y_true, y_pred):
    """Fraction of documents whose predicted class is the true one."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))
