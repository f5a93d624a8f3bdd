"""Probes for the chapter 1 exercise: seeded texts, documents, count matrices, models and labels
fed to the student's tokenize, count_matrix, fit_naive_bayes, predict and confusion_matrix."""
import copy

import numpy as np

from grader.probes import copies

SEEDS = (101, 102, 103)
PARTS = {
    "count_matrix": ("tokenize",),
    "fit_naive_bayes": ("tokenize", "count_matrix"),
    "predict": ("tokenize", "count_matrix", "fit_naive_bayes"),
    "confusion_matrix": ("tokenize", "count_matrix", "fit_naive_bayes", "predict"),
}

# --- tokenize -------------------------------------------------------------------------------

WORDS = ["Teddy", "bears", "ARE", "on", "Sale", "event", "Loop", "handler", "MIME", "header",
         "Test", "case", "Element", "tree", "logger", "Future", "task", "parser"]
ODD = ["call_soon", "utf8", "x2y", "3.11", "don't", "event-loop", "(self)", "h1,h2", "__init__",
       "e.g.", "42", "[B]", "a.b.c", "TestCase.setUp()", "O'Neil", "--verbose", "\"quoted\""]
SEPARATORS = [" ", " ", " ", "\n", "\t", ", ", ". ", "; ", ":", "  "]


def random_text(seed):
    """A seeded text mixing capitalised words, identifiers, digits and punctuation."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(12, 20))
    pieces = [str(rng.choice(ODD)) if rng.random() < 0.35 else str(rng.choice(WORDS)) for _ in range(n)]
    pieces[0], pieces[1] = "Teddy", str(rng.choice(ODD[:4]))  # always an upper-case letter and an identifier
    text = ""
    for piece in pieces:
        text += piece + str(rng.choice(SEPARATORS))
    return text.strip()


def tokenize_texts():
    """The texts tokenize is graded on: one random text per seed, the empty text, and one without letters."""
    return [random_text(seed) for seed in SEEDS] + ["", "1234 -- 5.6!"]


def _as_list(tokens):
    """A tuple, generator or other iterable of tokens as a list (None and non-iterables as they are)."""
    if tokens is None or isinstance(tokens, list):
        return tokens
    try:
        return list(tokens)
    except TypeError:
        return tokens


# --- count_matrix ---------------------------------------------------------------------------

POOL = ["loop", "task", "future", "header", "message", "logger", "handler", "test", "case", "node",
        "element", "parser", "the", "of", "a"]


def random_documents(seed):
    """An unsorted vocabulary and token lists that repeat words and contain words outside it."""
    rng = np.random.default_rng(seed)
    V = int(rng.integers(5, 9))
    words = list(rng.permutation(POOL))
    vocab, outside = words[:V], words[V:]
    if vocab == sorted(vocab):
        vocab = vocab[::-1]
    docs = []
    for _ in range(int(rng.integers(4, 7))):
        n = int(rng.integers(3, 12))
        docs.append([str(rng.choice(vocab)) if rng.random() < 0.8 else str(rng.choice(outside)) for _ in range(n)])
    docs.append([])  # an empty document is a row of zeros
    docs[0] += [vocab[0]] * 3  # some word occurs more than once
    return [str(w) for w in vocab], docs


# --- fit_naive_bayes ------------------------------------------------------------------------

ALPHAS = {101: 1.0, 102: 0.5, 103: 0.1}


def random_training_set(seed):
    """Counts X (N, V) and labels y (N,) in which every class occurs, with unequal class sizes
    and unequal document lengths, and at least one word never seen in class 0."""
    rng = np.random.default_rng(seed)
    K, V = int(rng.integers(3, 5)), int(rng.integers(5, 9))
    N = int(rng.integers(10, 16))
    y = np.concatenate([np.arange(K), rng.choice(K, size=N - K, p=rng.dirichlet(np.full(K, 2.0)))])
    rates = rng.gamma(0.7, 1.5, size=(K, V))
    lengths = rng.uniform(0.3, 2.5, size=N)
    X = rng.poisson(rates[y] * lengths[:, None])
    X[y == 0, 0] = 0
    X[0, 1:] += 1  # no empty documents: every class has words
    return X, y, K


# --- predict --------------------------------------------------------------------------------

def random_model(seed):
    """Skewed priors and random word distributions, as a fitted model would have."""
    rng = np.random.default_rng(seed)
    K, V = int(rng.integers(3, 6)), int(rng.integers(6, 11))
    prior = np.sort(rng.dirichlet(np.full(K, 0.7)))[::-1]
    theta = rng.dirichlet(np.full(V, 0.8), size=K)
    theta = (theta + 1e-3) / (theta + 1e-3).sum(axis=1, keepdims=True)
    return np.log(prior), np.log(theta)


def short_documents(seed, log_lik):
    """Documents of one to four tokens: the prior matters as much as the words."""
    rng = np.random.default_rng(seed + 1000)
    K, V = log_lik.shape
    X = np.zeros((int(rng.integers(25, 40)), V), dtype=np.int64)
    for d in range(len(X)):
        X[d] = rng.multinomial(int(rng.integers(1, 5)), np.exp(log_lik[rng.integers(K)]))
    return X


def long_documents(seed, log_lik, length=5000):
    """Documents of ``length`` tokens, each drawn from one class (not class 0): a product of
    ``length`` probabilities underflows to 0.0 in float64."""
    rng = np.random.default_rng(seed + 2000)
    K, V = log_lik.shape
    return np.stack([rng.multinomial(length, np.exp(log_lik[1 + d % (K - 1)])) for d in range(2 * K)])


def predict_cases():
    """(seed, kind, X, log_prior, log_lik): short then long documents under each seed's model."""
    cases = []
    for seed in SEEDS:
        log_prior, log_lik = random_model(seed)
        for kind, X in (("short", short_documents(seed, log_lik)), ("long", long_documents(seed, log_lik))):
            cases.append((seed, kind, X, log_prior, log_lik))
    return cases


# --- confusion_matrix -----------------------------------------------------------------------

def random_labels(seed):
    """True and predicted labels in which the last class never occurs (its row and column are 0)."""
    rng = np.random.default_rng(seed)
    K = int(rng.integers(3, 6))
    N = int(rng.integers(20, 40))
    y_true = rng.integers(0, K - 1, size=N)
    y_pred = np.where(rng.random(N) < 0.6, y_true, rng.integers(0, K - 1, size=N))
    y_pred[0], y_true[1], y_pred[1] = (y_true[0] + 1) % (K - 1), 0, 1  # at least one off-diagonal pair
    return y_true, y_pred, K


# --- the probes -----------------------------------------------------------------------------

def probe_tokenize(tokenize):
    return [_as_list(tokenize(text)) for text in tokenize_texts()]


def probe_count_matrix(count_matrix):
    """One entry per seed: {"returned": X}, or {"raised": name, "message": text} for a KeyError or
    ValueError (a token outside vocab), after which nothing more is called."""
    results = []
    for seed in SEEDS:
        vocab, docs = random_documents(seed)
        try:
            results.append({"returned": count_matrix(copy.deepcopy(docs), list(vocab))})
        except (KeyError, ValueError) as error:
            results.append({"raised": type(error).__name__, "message": str(error)})
            break
    return results


def probe_fit_naive_bayes(fit_naive_bayes):
    results = []
    for seed in SEEDS:
        X, y, K = random_training_set(seed)
        results.append(fit_naive_bayes(*copies(X, y), K, ALPHAS[seed]))
    return results


def probe_predict(predict):
    return [predict(*copies(X, log_prior, log_lik)) for _, _, X, log_prior, log_lik in predict_cases()]


def probe_confusion_matrix(confusion_matrix):
    results = []
    for seed in SEEDS:
        y_true, y_pred, K = random_labels(seed)
        results.append(confusion_matrix(*copies(y_true, y_pred), K))
    return results
