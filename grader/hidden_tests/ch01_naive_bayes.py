"""Hidden tests for the chapter 1 exercise (tokenize, count_matrix, fit_naive_bayes, predict, confusion_matrix)."""
import copy
import re

import numpy as np

from grader.hidden_tests import copies, diagnose, use_reference_parts
from grader.reference import ch01_naive_bayes as ref

SEEDS = (101, 102, 103)

# --- tokenize -------------------------------------------------------------------------------

WORDS = ["Teddy", "bears", "ARE", "on", "Sale", "event", "Loop", "handler", "MIME", "header",
         "Test", "case", "Element", "tree", "logger", "Future", "task", "parser"]
ODD = ["call_soon", "utf8", "x2y", "3.11", "don't", "event-loop", "(self)", "h1,h2", "__init__",
       "e.g.", "42", "[B]", "a.b.c", "TestCase.setUp()", "O'Neil", "--verbose", "\"quoted\""]
SEPARATORS = [" ", " ", " ", "\n", "\t", ", ", ". ", "; ", ":", "  "]

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


def _same_tokens(got, wrong):
    try:
        got = list(got)
    except TypeError:
        return ""
    for mistake, tokens in wrong.items():
        if got == tokens:
            return f"your result matches {mistake}."
    return ""


def test_tokenize(tokenize, check_close):
    texts = [random_text(seed) for seed in SEEDS] + ["", "1234 -- 5.6!"]
    for text in texts:
        got = tokenize(text)
        if got is not None and not isinstance(got, list):
            got = list(got)
        wrong = {m: f(text) for m, f in TOKENIZE_MISTAKES.items()}
        hint = _same_tokens(got, wrong) or (
            "lowercase the whole text, then keep the maximal runs of the letters a-z; every other "
            "character (digit, underscore, apostrophe, punctuation, space) ends a token.")
        check_close(f"tokenize({text!r})", got, ref.tokenize(text), (), hint)


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


def count_mistakes(docs, vocab):
    X = ref.count_matrix(docs, vocab)
    order = [vocab.index(w) for w in sorted(vocab)]
    return {
        "presence (0 or 1) instead of counts: a word that occurs three times must count 3": (X > 0).astype(float),
        "columns in alphabetical order instead of the order of vocab (column j is vocab[j])": X[:, order],
        "the transpose, shape (V, N): rows must be documents and columns vocabulary words": X.T,
    }


def test_count_matrix(count_matrix, check_close, namespace):
    use_reference_parts(namespace, tokenize=ref.tokenize)
    for seed in SEEDS:
        vocab, docs = random_documents(seed)
        try:
            got = count_matrix(copy.deepcopy(docs), list(vocab))
        except (KeyError, ValueError) as error:
            raise AssertionError(
                f"count_matrix raised {type(error).__name__}: {error} on a document with a word outside the "
                "vocabulary. Hint: skip tokens that are not in vocab (they have no column).") from None
        hint = diagnose(got, count_mistakes(docs, vocab)) or (
            "X[d, j] is how many times vocab[j] occurs in docs[d]; tokens outside vocab are skipped.")
        check_close(f"count_matrix on {len(docs)} documents with vocab {vocab}", got,
                    ref.count_matrix(docs, vocab), ("document", "word"), hint)


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
        raise AssertionError(f"{name} must return a pair (log_prior, log_lik); got {type(result).__name__}.")
    return result


def test_fit_naive_bayes(fit_naive_bayes, check_close, namespace):
    use_reference_parts(namespace, tokenize=ref.tokenize, count_matrix=ref.count_matrix)
    for seed in SEEDS:
        X, y, K = random_training_set(seed)
        alpha = ALPHAS[seed]
        got_prior, got_lik = _two_arrays(fit_naive_bayes(*copies(X, y), K, alpha), "fit_naive_bayes")
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


def test_predict(predict, check_close, namespace):
    use_reference_parts(namespace, tokenize=ref.tokenize, count_matrix=ref.count_matrix,
                        fit_naive_bayes=ref.fit_naive_bayes)
    for seed in SEEDS:
        log_prior, log_lik = random_model(seed)
        for kind, X in (("short", short_documents(seed, log_lik)), ("long", long_documents(seed, log_lik))):
            got = predict(*copies(X, log_prior, log_lik))
            wrong = {m: f(X, log_prior, log_lik) for m, f in PREDICT_MISTAKES.items()}
            hint = diagnose(got, wrong) or (
                "the MAP class maximises log P(c) + sum_w x_w log P(w | c); add logs, never multiply probabilities.")
            length = int(X.sum(axis=1).max())
            check_close(f"predict on {len(X)} {kind} documents (up to {length} tokens; K = {len(log_prior)} "
                        "classes)", got, ref.predict(X, log_prior, log_lik), ("document",), hint)


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


def confusion_mistakes(y_true, y_pred, K):
    M = ref.confusion_matrix(y_true, y_pred, K)
    present = int(max(y_true.max(), y_pred.max())) + 1
    return {
        "the transpose: rows must be the true class and columns the predicted class": M.T,
        "fractions of all documents instead of counts": M / len(y_true),
        "a matrix sized by the classes that occur in the labels instead of n_classes": M[:present, :present],
    }


def test_confusion_matrix(confusion_matrix, check_close, namespace):
    use_reference_parts(namespace, tokenize=ref.tokenize, count_matrix=ref.count_matrix,
                        fit_naive_bayes=ref.fit_naive_bayes, predict=ref.predict)
    for seed in SEEDS:
        y_true, y_pred, K = random_labels(seed)
        got = confusion_matrix(*copies(y_true, y_pred), K)
        hint = diagnose(got, confusion_mistakes(y_true, y_pred, K)) or (
            "M[i, j] counts the documents of true class i that were predicted as class j.")
        check_close(f"confusion_matrix of {len(y_true)} labels, n_classes = {K}", got,
                    ref.confusion_matrix(y_true, y_pred, K), ("true class", "predicted class"), hint)
