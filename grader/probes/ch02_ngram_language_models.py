"""Probes for the chapter 2 exercise: seeded sentences, count tables and table models fed to the student's
functions (count_ngrams, add_delta_probs, perplexity, continuation_probs, kneser_ney_probs,
katz_backoff_probs, generate).

Nothing here counts n-grams of sentences or smooths anything: the count tables given to the later parts
are drawn at random directly (no sentences behind them), so this module holds no answer to any part.
"""
import itertools
from collections import Counter

import numpy as np

from grader.kernel_harness import describe
from grader.probes import copies

BOS, EOS = "<s>", "</s>"
SEEDS = (201, 202, 203)
ORDERS = {201: 2, 202: 3, 203: 4}  # one order per seed; order 1 is tested on its own in count_ngrams
WORDS = ("the", "cat", "sat", "on", "a", "mat", "dog", "ran")
UNSEEN_WORD = "zebra"  # in the vocabulary, never in a sentence nor in a count table (except the context of
#                        the backoff cases that every token follows)
DISCOUNTS = (0.75, 0.5, 0.9)  # kneser_ney_probs: one discount per seed
BACKOFF_DISCOUNTS = (0.5, 0.9, 0.25)  # katz_backoff_probs: one discount per seed
GENERATE_CASES = ((601, 2), (602, 3), (603, 1))  # (seed, order)
N_REPRODUCED = 5  # sentences per run in the reproducibility check
N_SENTENCES = 1500
MAX_LEN = 40
NEVER_ENDS = (604, 2, 7)  # generate from a model that never draws </s>: (seed, order, max_len)

PARTS = {  # each part is graded on top of the correct versions of the parts before it
    "add_delta_probs": ("count_ngrams",),
    "perplexity": ("count_ngrams", "add_delta_probs"),
    "continuation_probs": ("count_ngrams", "add_delta_probs", "perplexity"),
    "kneser_ney_probs": ("count_ngrams", "add_delta_probs", "perplexity", "continuation_probs"),
    "katz_backoff_probs": ("count_ngrams", "add_delta_probs", "perplexity", "continuation_probs", "kneser_ney_probs"),
    "generate": ("count_ngrams", "add_delta_probs", "perplexity", "continuation_probs", "kneser_ney_probs",
                 "katz_backoff_probs"),
}


# ---------------------------------------------------------------- fixtures

def random_sentences(seed, n_sentences=None, words=None):
    """Seeded sentences of multi-letter word tokens (one of them empty) and their vocabulary."""
    rng = np.random.default_rng(seed)
    words = words or sorted(str(w) for w in rng.choice(WORDS, size=int(rng.integers(3, 6)), replace=False))
    n_sentences = n_sentences or int(rng.integers(5, 9))
    sentences = [[str(w) for w in rng.choice(words, size=int(rng.integers(1, 7)))] for _ in range(n_sentences)]
    sentences[int(rng.integers(0, n_sentences))] = []  # an empty sentence is still one EOS to predict
    vocab = words + [UNSEEN_WORD, EOS]
    return sentences, vocab


def _contexts(words, n):
    """Every context an order-n model can meet: n - 1 - k <s> followed by k words."""
    return [(BOS,) * (n - 1 - k) + tail for k in range(n) for tail in itertools.product(words, repeat=k)]


def _words(rng, size=None):
    size = int(rng.integers(3, 6)) if size is None else size
    return sorted(str(w) for w in rng.choice(WORDS, size=size, replace=False))


def random_counts(seed, n):
    """Seeded counts counts[context][token] of an order-n model, drawn directly: some contexts (the start
    context always among them), each with a few followers counted 1 to 4 times. No sentences behind them."""
    rng = np.random.default_rng(seed)
    words = _words(rng)
    vocab = words + [UNSEEN_WORD, EOS]
    possible = _contexts(words, n)
    chosen = {0} | {int(i) for i in rng.choice(len(possible), size=min(len(possible), int(rng.integers(4, 9))),
                                               replace=False)}
    counts = {}
    for i in sorted(chosen):
        followers = rng.choice(words + [EOS], size=int(rng.integers(1, len(words) + 2)), replace=False)
        counts[possible[i]] = Counter({str(w): int(rng.integers(1, 5)) for w in followers})
    return counts, vocab


def unseen_context(counts, vocab, n):
    """A context of vocabulary words that has no entry in ``counts``."""
    for w in vocab[:-1]:
        h = (w,) * (n - 1)
        if h not in counts:
            return h
    return (UNSEEN_WORD,) * (n - 1)


def add_delta_cases(seed):
    """(counts, vocab, [(context, delta), ...]) for one seed: the two busiest contexts, then an unseen one."""
    counts, vocab = random_counts(seed, ORDERS[seed])
    seen = sorted(counts, key=lambda h: -sum(counts[h].values()))[:2]
    cases = [(h, d) for h in seen for d in (1.0, 0.1)] + [(seen[0], 0.0)]
    cases += [(unseen_context(counts, vocab, ORDERS[seed]), d) for d in (1.0, 0.3)]
    return counts, vocab, cases


def continuation_case(seed):
    """Random bigram counts (the start context (<s>,) included) and their vocabulary."""
    return random_counts(seed, 2)


def kneser_ney_case(seed):
    """(counts, vocab, p_cont, contexts): random bigram counts built follower by follower, so that each token's
    number of distinct contexts is known as they are drawn; p_cont is the share of those (what Part D gives)."""
    rng = np.random.default_rng(seed + 100)
    words = _words(rng)
    vocab = words + [UNSEEN_WORD, EOS]
    contexts = [(BOS,)] + [(w,) for w in words]
    before = {}
    counts = {h: Counter() for h in contexts}
    for w in words + [EOS]:
        chosen = rng.choice(len(contexts), size=int(rng.integers(1, len(contexts) + 1)), replace=False)
        before[w] = len(chosen)
        for i in sorted(int(i) for i in chosen):
            counts[contexts[i]][w] = int(rng.integers(1, 5))
    counts = {h: following for h, following in counts.items() if following}
    p_cont = np.array([before.get(w, 0) for w in vocab], dtype=float)
    p_cont /= p_cont.sum()
    busiest = sorted(counts, key=lambda h: -sum(counts[h].values()))[:3]
    return counts, vocab, p_cont, busiest + [(UNSEEN_WORD,)]


def backoff_cases(seed):
    """(counts, vocab, [(context, p_lower), ...]) of an order-n model: the two busiest contexts, a context
    that every token of the vocabulary follows, and an unseen one; each with a random positive p_lower."""
    n = ORDERS[seed]
    counts, vocab = random_counts(seed + 300, n)
    rng = np.random.default_rng(seed + 300)
    by_use = sorted(counts, key=lambda h: (-sum(counts[h].values()), h))  # at least four contexts
    counts[by_use[-1]] = Counter({w: int(rng.integers(1, 5)) for w in vocab})  # the least used now sees every token
    contexts = by_use[:2] + [by_use[-1], (UNSEEN_WORD,) * (n - 1)]  # zebra is never in a context
    return counts, vocab, [(h, rng.dirichlet(np.ones(len(vocab)))) for h in contexts]


class TableModel:
    """A model given by a table context -> probabilities, that refuses contexts of the wrong form."""

    def __init__(self, table, n, vocab, default=None, who="perplexity", max_calls=None):
        self.table, self.n, self.vocab, self.default, self.who = table, n, vocab, default, who
        self.calls, self.max_calls = [], max_calls

    def __call__(self, context):
        if not isinstance(context, (tuple, list)) or len(context) != self.n - 1 or \
                any(w not in self.vocab and w != BOS or w == EOS for w in context):
            raise AssertionError(
                f"{self.who} called model({context!r}), but an order-{self.n} model takes a tuple of the "
                f"{self.n - 1} tokens before the predicted one (with <s> padding at the start of a sentence).")
        context = tuple(str(w) for w in context)
        self.calls.append(context)
        if self.max_calls is not None and len(self.calls) > self.max_calls:
            raise AssertionError(f"{self.who} kept calling the model ({len(self.calls)} calls) without finishing the "
                                 "sentence: stop after max_len tokens.")
        probs = self.table.get(context, self.default)
        return np.array(probs, dtype=float)


def perplexity_case(seed):
    """(n, vocab, held_out, {name: model}) for one seed: two random table models of order n."""
    n = ORDERS[seed]
    _, vocab = random_sentences(seed)
    held_out, _ = random_sentences(seed + 50, words=vocab[:-2])
    rng = np.random.default_rng(seed)
    V, contexts = len(vocab), _contexts(vocab[:-2], n)
    half = [contexts[int(i)] for i in sorted(rng.choice(len(contexts), size=(len(contexts) + 1) // 2, replace=False))]
    peaked = {h: rng.dirichlet(np.full(V, 0.5)) for h in half}
    table = {h: rng.dirichlet(np.ones(V)) for h in contexts}
    models = {
        f"a model of order {n} that guesses uniformly in half of its contexts":
            TableModel(peaked, n, vocab, default=np.full(V, 1 / V)),
        f"a random model of order {n}": TableModel(table, n, vocab, default=rng.dirichlet(np.ones(V))),
    }
    return n, vocab, held_out, models


def sampling_model(seed, n):
    """A random order-n model over three words whose sentences end soon (P(</s>) >= 0.2 everywhere)."""
    rng = np.random.default_rng(seed)
    words = sorted(str(w) for w in rng.choice(WORDS, size=3, replace=False))
    vocab = words + [EOS]
    table = {}
    for h in sorted(_contexts(words, n)):
        p = rng.dirichlet(np.full(len(vocab), 0.7))
        table[h] = 0.8 * p + 0.2 * np.eye(len(vocab))[-1]
    return vocab, table


def never_ending_model():
    """(vocab, table, n, max_len): sampling_model(604, 2) with the probability of </s> set to zero."""
    seed, n, max_len = NEVER_ENDS
    vocab, table = sampling_model(seed, n)
    return vocab, {h: np.r_[p[:-1] / p[:-1].sum(), 0.0] for h, p in table.items()}, n, max_len


# ---------------------------------------------------------------- calling the student's functions

class _Stopped(Exception):
    """The student's function raised: no further calls (the judge stops at that call)."""


class Calls:
    """Calls the student's function and keeps, in call order, what each call returned; the first call that
    raises ends the probe, and its error is reported in its place."""

    def __init__(self, fn):
        self.fn, self.results, self.raised = fn, [], None

    def __call__(self, *args, **kwargs):
        try:
            value = self.fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - reported as data, judged in call order
            self.raised = describe(err)
            raise _Stopped from None
        self.results.append(value)
        return value

    def report(self, **extra):
        return {"results": self.results, "raised": self.raised, **extra}


def probe_count_ngrams(count_ngrams):
    call = Calls(count_ngrams)
    try:
        for seed, n in [(seed, ORDERS[seed]) for seed in SEEDS] + [(SEEDS[0], 1)]:
            call(*copies(random_sentences(seed)[0], n))
    except _Stopped:
        pass
    return call.report()


def probe_add_delta_probs(add_delta_probs):
    call = Calls(add_delta_probs)
    try:
        for seed in SEEDS:
            counts, vocab, cases = add_delta_cases(seed)
            for h, delta in cases:
                call(*copies(counts, h, vocab, delta))
    except _Stopped:
        pass
    return call.report()


def probe_perplexity(perplexity):
    call = Calls(perplexity)
    try:
        for seed in SEEDS:
            n, vocab, held_out, models = perplexity_case(seed)
            for model in models.values():
                call(model, *copies(vocab, held_out, n))
    except _Stopped:
        pass
    return call.report()


def probe_continuation_probs(continuation_probs):
    call = Calls(continuation_probs)
    try:
        for seed in SEEDS:
            call(*copies(*continuation_case(seed)))
    except _Stopped:
        pass
    return call.report()


def probe_kneser_ney_probs(kneser_ney_probs):
    call = Calls(kneser_ney_probs)
    try:
        for seed, d in zip(SEEDS, DISCOUNTS):
            counts, vocab, p_cont, contexts = kneser_ney_case(seed)
            for h in contexts:
                call(*copies(counts, h, vocab, d, p_cont))
    except _Stopped:
        pass
    return call.report()


def probe_katz_backoff_probs(katz_backoff_probs):
    call = Calls(katz_backoff_probs)
    try:
        for seed, d in zip(SEEDS, BACKOFF_DISCOUNTS):
            counts, vocab, cases = backoff_cases(seed)
            for h, p_lower in cases:
                call(*copies(counts, h, vocab, d, p_lower))
    except _Stopped:
        pass
    return call.report()


def probe_generate(generate):
    """Per case, in call order: two runs of N_REPRODUCED sentences from identically seeded generators, then
    N_SENTENCES sentences for the frequencies; last, the sentence of the model that never ends. ``contexts``
    holds, per case, the distinct contexts the model was asked about while drawing the N_SENTENCES."""
    call, contexts = Calls(generate), []
    try:
        for seed, n in GENERATE_CASES:
            vocab, table = sampling_model(seed, n)
            for _ in range(2):
                model = TableModel(table, n, vocab, who="generate", max_calls=10 * MAX_LEN)
                rng = np.random.default_rng(seed)
                for _ in range(N_REPRODUCED):
                    call(model, list(vocab), n, rng, max_len=MAX_LEN)
            model = TableModel(table, n, vocab, who="generate")
            rng = np.random.default_rng(seed + 1000)
            for _ in range(N_SENTENCES):
                model.max_calls = len(model.calls) + 3 * (MAX_LEN + 1)  # generous: some students call it twice a step
                call(model, list(vocab), n, rng, max_len=MAX_LEN)
            contexts.append(list(dict.fromkeys(model.calls)))
        vocab, never, n, max_len = never_ending_model()
        model = TableModel(never, n, vocab, who="generate", max_calls=3 * max_len + 5)
        call(model, list(vocab), n, np.random.default_rng(0), max_len=max_len)
    except _Stopped:
        pass
    return call.report(contexts=contexts)
