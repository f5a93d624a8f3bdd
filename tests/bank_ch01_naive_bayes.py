"""Realistic wrong answers to the chapter 1 exercise: each loses one part, and the feedback names why.

Each entry: the code a student might write for one solution cell, the test cell that
must fail (and only it), and words the failure message must contain.
"""
from submission_bank import Mistake

TOKENIZE = "def tokenize(text):\n    return {}\n"
COUNT = '''def count_matrix(docs, vocab):
    column = {{word: j for j, word in enumerate({vocab})}}
    X = np.zeros((len(docs), len(vocab)), dtype=int)
    for d, tokens in enumerate(docs):
        for token in tokens:
            if token in column:
                X[d, column[token]] {update}
    return X
'''
FIT = '''def fit_naive_bayes(X, y, n_classes, alpha=1.0):
    y = np.asarray(y)
    N_c = np.bincount(y, minlength=n_classes)
    T = np.stack([X[y == c].sum(axis=0) for c in range(n_classes)])
    V = X.shape[1]
    log_prior = {prior}
    log_lik = {lik}
    return log_prior, log_lik
'''
RIGHT_PRIOR = "np.log(N_c / len(y))"
RIGHT_LIK = "np.log((T + alpha) / (T.sum(axis=1, keepdims=True) + alpha * V))"
PREDICT = "def predict(X, log_prior, log_lik):\n{body}"
CONFUSION = '''def confusion_matrix(y_true, y_pred, n_classes):
    M = np.zeros((n_classes, n_classes), dtype=int)
    for true, pred in zip(y_true, y_pred):
        {update}
    return M
'''

MISTAKES = {
    # Part A: tokenize
    "no_lowercasing": Mistake(
        "tokenize", TOKENIZE.format('re.findall(r"[A-Za-z]+", text)'), "test_tokenize", "does not lowercase"),
    "word_characters": Mistake(
        "tokenize", TOKENIZE.format('re.findall(r"\\w+", text.lower())'), "test_tokenize",
        "keep digits and underscores"),
    "whitespace_split": Mistake(
        "tokenize", TOKENIZE.format("text.lower().split()"), "test_tokenize", "splitting on whitespace"),
    # Part B: count_matrix
    "presence_not_counts": Mistake(
        "count_matrix", COUNT.format(vocab="vocab", update="= 1"), "test_count_matrix", "presence (0 or 1)"),
    "alphabetical_columns": Mistake(
        "count_matrix", COUNT.format(vocab="sorted(vocab)", update="+= 1"), "test_count_matrix",
        "alphabetical order instead of the order of vocab"),
    # Part C: fit_naive_bayes
    "alpha_in_numerator_only": Mistake(
        "fit_naive_bayes", FIT.format(prior=RIGHT_PRIOR, lik="np.log((T + alpha) / T.sum(axis=1, keepdims=True))"),
        "test_fit_naive_bayes", "alpha added to the numerator only"),
    "normalised_by_document_counts": Mistake(
        "fit_naive_bayes", FIT.format(prior=RIGHT_PRIOR, lik="np.log((T + alpha) / (N_c[:, None] + alpha * V))"),
        "test_fit_naive_bayes", "number of documents of the class"),
    "prior_from_word_counts": Mistake(
        "fit_naive_bayes", FIT.format(prior="np.log(T.sum(axis=1) / T.sum())", lik=RIGHT_LIK),
        "test_fit_naive_bayes", "priors from word counts"),
    "bernoulli_document_frequencies": Mistake(
        "fit_naive_bayes", FIT.replace("X[y == c].sum(axis=0)", "(X[y == c] > 0).sum(axis=0)").format(
            prior=RIGHT_PRIOR, lik=RIGHT_LIK),
        "test_fit_naive_bayes", "document frequencies"),
    # Part D: predict
    "product_of_probabilities": Mistake(
        "predict", PREDICT.format(body=(
            "    joint = np.exp(log_prior) * np.prod(np.exp(log_lik)[None] ** X[:, None, :], axis=2)\n"
            "    return np.argmax(joint, axis=1)\n")),
        "test_predict", "multiplying probabilities instead of adding"),
    "prior_ignored": Mistake(
        "predict", PREDICT.format(body="    return np.argmax(X @ log_lik.T, axis=1)\n"),
        "test_predict", "ignores the prior"),
    # Part E: confusion_matrix
    "transposed_confusion_matrix": Mistake(
        "confusion_matrix", CONFUSION.format(update="M[pred, true] += 1"), "test_confusion_matrix",
        "rows must be the true class"),
    "confusion_fractions": Mistake(
        "confusion_matrix", CONFUSION.format(update="M[true, pred] += 1").replace(
            "    return M\n", "    return M / len(y_true)\n"),
        "test_confusion_matrix", "fractions of all documents instead of counts"),
}
