"""Chapter 2, "n-gram language models": counting, add-delta, perplexity, Kneser-Ney, Katz backoff, sampling.

A sentence is a list of tokens (strings). A model of order ``n`` pads it with ``n - 1``
copies of ``BOS`` on the left and one ``EOS`` on the right, and predicts every token after
the padding, ``EOS`` included. Counts are nested: ``counts[context][w]`` is c(h, w), the
number of times token ``w`` follows ``context``, the tuple h of the n - 1 tokens before it.
A model is a function ``model(context) -> probabilities``: an array (V,) over ``vocab``.
"""
from collections import Counter

import numpy as np

BOS, EOS = "<s>", "</s>"


def pad(sentence, n):
    """The tokens an order-n model sees: n - 1 BOS, the sentence, one EOS."""
    return [BOS] * (n - 1) + list(sentence) + [EOS]


def count_ngrams(sentences, n):
    """c(h, w) for every n-gram of the padded sentences, as ``counts[h][w]`` (h a tuple of n - 1 tokens)."""
    counts = {}
    for sentence in sentences:
        tokens = pad(sentence, n)
        for i in range(n - 1, len(tokens)):
            h = tuple(tokens[i - n + 1:i])
            counts.setdefault(h, Counter())[tokens[i]] += 1
    return counts


def add_delta_probs(counts, context, vocab, delta):
    """P(w | h) = (c(h, w) + delta) / (c(h) + V delta) for every w in ``vocab``, an array (V,).

    c(h) is the total count of the context, sum_w c(h, w); an unseen context gives 1/V.
    """
    following = counts.get(tuple(context), {})
    c_hw = np.array([following.get(w, 0) for w in vocab], dtype=float)
    c_h = sum(following.values())
    return (c_hw + delta) / (c_h + len(vocab) * delta)


def perplexity(model, vocab, sentences, n):
    """2 ** (-(1/N) sum_i log2 P(w_i | h_i)) over every predicted token (EOS included, BOS not)."""
    index = {w: i for i, w in enumerate(vocab)}
    log2_total, N = 0.0, 0
    for sentence in sentences:
        tokens = pad(sentence, n)
        for i in range(n - 1, len(tokens)):
            p = model(tuple(tokens[i - n + 1:i]))[index[tokens[i]]]
            log2_total += np.log2(p)
            N += 1
    return float(2.0 ** (-log2_total / N))


def continuation_probs(counts, vocab):
    """P_cont(w) = N1+(. w) / N1+(. .) from bigram counts ``counts[(v,)][w]``, an array (V,).

    N1+(. w) is the number of distinct contexts v (BOS included) that w follows at least once.
    """
    n_before = Counter(w for following in counts.values() for w, c in following.items() if c > 0)
    N1 = np.array([n_before[w] for w in vocab], dtype=float)
    return N1 / N1.sum()


def kneser_ney_probs(counts, context, vocab, d, p_cont):
    """Interpolated Kneser-Ney bigram probabilities P_KN(w | v) for every w in ``vocab``, an array (V,).

    P_KN(w | v) = max(c(v, w) - d, 0) / c(v) + lambda(v) P_cont(w), lambda(v) = d N1+(v .) / c(v);
    an unseen context gives P_cont.
    """
    following = counts.get(tuple(context), {})
    c_v = sum(following.values())
    if c_v == 0:
        return np.array(p_cont, dtype=float)
    c_vw = np.array([following.get(w, 0) for w in vocab], dtype=float)
    lam = d * sum(1 for c in following.values() if c > 0) / c_v
    return np.maximum(c_vw - d, 0) / c_v + lam * np.asarray(p_cont, dtype=float)


def katz_backoff_probs(counts, context, vocab, d, p_lower):
    """Katz-style backoff with an absolute discount ``d`` for one context h, an array (V,):

    P_BO(w | h) = (c(h, w) - d) / c(h) if c(h, w) > 0, else alpha(h) p_lower(w), with
    alpha(h) = (d N1+(h .) / c(h)) / (1 - sum_{w seen after h} p_lower(w)), so that it sums to one.
    ``p_lower`` is the (positive) lower-order distribution after the shortened context h'. An unseen
    context gives ``p_lower``; a context followed by every token of ``vocab`` keeps c(h, w) / c(h).
    """
    following = counts.get(tuple(context), {})
    p_lower = np.asarray(p_lower, dtype=float)
    c_h = sum(following.values())
    if c_h == 0:
        return p_lower.copy()
    c_hw = np.array([following.get(w, 0) for w in vocab], dtype=float)
    seen = c_hw > 0
    if seen.all():
        return c_hw / c_h
    alpha = d * seen.sum() / c_h / (1 - p_lower[seen].sum())
    return np.where(seen, (c_hw - d) / c_h, alpha * p_lower)


def generate(model, vocab, n, rng, max_len=100):
    """Sample one sentence: start from n - 1 BOS, draw each token from model(context) with ``rng``,
    stop at EOS (not returned) or after ``max_len`` tokens."""
    context, out = (BOS,) * (n - 1), []
    while len(out) < max_len:
        w = vocab[rng.choice(len(vocab), p=model(context))]
        if w == EOS:
            break
        out.append(w)
        context = (context + (w,))[1:]
    return out
