"""Hidden tests for the chapter 2 exercise (count_ngrams, add_delta_probs, perplexity,
continuation_probs, kneser_ney_probs, generate)."""
import copy
import itertools
from collections import Counter

import numpy as np

from grader.hidden_tests import diagnose, use_reference_parts
from grader.reference import ch02_ngram_language_models as ref

BOS, EOS = ref.BOS, ref.EOS
SEEDS = (201, 202, 203)
ORDERS = {201: 2, 202: 3, 203: 4}  # one order per seed; order 1 is tested on its own below
WORDS = ("the", "cat", "sat", "on", "a", "mat", "dog", "ran")
UNSEEN_WORD = "zebra"  # in the vocabulary, never in a training sentence


def random_sentences(seed, n_sentences=None, words=None):
    """Seeded sentences of multi-letter word tokens (one of them empty) and their vocabulary."""
    rng = np.random.default_rng(seed)
    words = words or sorted(str(w) for w in rng.choice(WORDS, size=int(rng.integers(3, 6)), replace=False))
    n_sentences = n_sentences or int(rng.integers(5, 9))
    sentences = [[str(w) for w in rng.choice(words, size=int(rng.integers(1, 7)))] for _ in range(n_sentences)]
    sentences[int(rng.integers(0, n_sentences))] = []  # an empty sentence is still one EOS to predict
    vocab = words + [UNSEEN_WORD, EOS]
    return sentences, vocab


def _copy(x):
    """Fresh copies of data (so a function that changes its inputs cannot spoil the expected answer);
    models and random generators are passed as they are."""
    return copy.deepcopy(x) if isinstance(x, (list, tuple, dict, np.ndarray)) else x


def _call(what, function, *args, **kwargs):
    """Call a student's function on copies; an exception becomes a failure that says where it came from."""
    try:
        return function(*[_copy(a) for a in args], **kwargs)
    except (NotImplementedError, AssertionError):
        raise
    except Exception as err:  # noqa: BLE001 - any crash of student code is reported, not re-raised
        raise AssertionError(f"{what}: your function raised {type(err).__name__}: {err}") from None


# ---------------------------------------------------------------- Part A: count_ngrams

def _count_with(sentences, n, left, right, joined=False):
    """Counts of a padding scheme: ``left`` BOS and ``right`` EOS around each sentence."""
    streams = [[BOS] * left + list(s) + [EOS] * right for s in sentences]
    if joined:
        streams = [[BOS] * left + [w for s in sentences for w in list(s) + [EOS]]]
    counts = {}
    for tokens in streams:
        for i in range(n - 1, len(tokens)):
            h = tuple(tokens[i - n + 1:i])
            counts.setdefault(h, Counter())[tokens[i]] += 1
    return counts


def count_mistakes(sentences, n):
    """Known wrong counts, as students compute them."""
    return {
        "no <s> padding at the start (the first n-1 tokens of each sentence are never predicted)":
            _count_with(sentences, n, 0, 1),
        "a single <s> at the start instead of n-1 (off by one in the padding)":
            _count_with(sentences, n, 1, 1),
        "n copies of <s> at the start, one too many (a <s> is then counted as a predicted token)":
            _count_with(sentences, n, n, 1),
        "no </s> at the end of each sentence":
            _count_with(sentences, n, n - 1, 0),
        "n-1 copies of </s> at the end (only one end symbol is predicted)":
            _count_with(sentences, n, n - 1, n - 1),
        "one stream of joined sentences (n-grams cross sentence boundaries; pad each sentence on its own)":
            _count_with(sentences, n, n - 1, 1, joined=True),
    }


def _flat(counts):
    return {(tuple(h), w): c for h, following in counts.items() for w, c in dict(following).items() if c}


def _count_hint(got, sentences, n):
    if isinstance(got, dict) and got and all(isinstance(k, tuple) and len(k) == n for k in got) \
            and all(isinstance(v, (int, np.integer)) for v in got.values()):
        return ("your result matches flat counts of whole n-gram tuples: split each n-gram into its context "
                "(the n-1 tokens before) and the next token, counts[context][token].")
    try:
        flat = _flat(got)
    except Exception:  # noqa: BLE001 - not nested counts at all; check_counts says so
        return ""
    for mistake, wrong in count_mistakes(sentences, n).items():
        if flat == _flat(wrong) and flat != _flat(ref.count_ngrams(sentences, n)):
            return f"your result matches {mistake}."
    return ""


def test_count_ngrams(count_ngrams, check_counts):
    cases = [(seed, ORDERS[seed]) for seed in SEEDS] + [(SEEDS[0], 1)]
    for seed, n in cases:
        sentences, _ = random_sentences(seed)
        got = _call(f"count_ngrams(sentences, n={n})", count_ngrams, sentences, n)
        hint = _count_hint(got, sentences, n) or (
            f"pad each sentence with {n - 1} <s> and one </s>, then count each token after the padding "
            "under the tuple of the n-1 tokens before it.")
        check_counts(f"count_ngrams with n={n} on {len(sentences)} random sentences", got,
                     ref.count_ngrams(sentences, n), hint)


# ---------------------------------------------------------------- Part B: add_delta_probs

def add_delta_mistakes(counts, context, vocab, delta):
    following = counts.get(tuple(context), {})
    c = np.array([following.get(w, 0) for w in vocab], dtype=float)
    c_h, V, types = sum(following.values()), len(vocab), sum(1 for k in following.values() if k > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "delta added to the numerator only (the denominator lacks V * delta)": (c + delta) / c_h,
            "delta added once to the denominator (it needs V * delta: one delta per vocabulary token)":
                (c + delta) / (c_h + delta),
            "unsmoothed counts (delta is ignored)": c / c_h,
            "a denominator with the number of distinct followers instead of the total count c(h)":
                (c + delta) / (types + V * delta),
            "a vocabulary one too large in the denominator (V + 1; <s> is never predicted)":
                (c + delta) / (c_h + (V + 1) * delta),
            "zeros for an unseen context (add-delta gives it 1/V for every token)":
                np.zeros(V) if c_h == 0 else (c + delta) / (c_h + V * delta) + 1,
        }


def _unseen_context(counts, vocab, n):
    for w in vocab[:-1]:
        h = (w,) * (n - 1)
        if h not in counts:
            return h
    return (UNSEEN_WORD,) * (n - 1)


def test_add_delta_probs(add_delta_probs, check_close, namespace):
    use_reference_parts(namespace, count_ngrams=ref.count_ngrams)
    for seed in SEEDS:
        n = ORDERS[seed]
        sentences, vocab = random_sentences(seed)
        counts = ref.count_ngrams(sentences, n)
        seen = sorted(counts, key=lambda h: -sum(counts[h].values()))[:2]
        cases = [(h, d) for h in seen for d in (1.0, 0.1)] + [(seen[0], 0.0)]
        cases += [(_unseen_context(counts, vocab, n), d) for d in (1.0, 0.3)]
        for h, delta in cases:
            kind = "seen" if h in counts else "unseen"
            what = f"add_delta_probs for the {kind} context {h} with delta={delta:g} (V={len(vocab)})"
            got = _call(what, add_delta_probs, counts, h, vocab, delta)
            expected = ref.add_delta_probs(counts, h, vocab, delta)
            hint = diagnose(got, add_delta_mistakes(counts, h, vocab, delta)) or \
                "P(w | h) = (c(h, w) + delta) / (c(h) + V * delta), with c(h) the sum of the counts after h."
            arr = np.asarray(got, dtype=float) if isinstance(got, (np.ndarray, list, tuple)) else None
            if arr is not None and arr.shape == expected.shape:
                check_close(f"the sum over the vocabulary of {what}", arr.sum(), 1.0, (), hint)
            check_close(what, got, expected, ("token",), hint, names=vocab)


# ---------------------------------------------------------------- Part C: perplexity

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
        context = tuple(context)
        self.calls.append(context)
        if self.max_calls is not None and len(self.calls) > self.max_calls:
            raise AssertionError(f"{self.who} kept calling the model ({len(self.calls)} calls) without finishing the "
                                 "sentence: stop after max_len tokens.")
        probs = self.table.get(context, self.default)
        return np.array(probs, dtype=float)


def _perplexity_with(model, vocab, sentences, n, *, log=np.log2, base=2.0, eos=True, per_sentence=False,
                     count_padding=False, pad_start=True, sign=-1):
    index = {w: i for i, w in enumerate(vocab)}
    total, N, per = 0.0, 0, []
    for s in sentences:
        tokens = ([BOS] * (n - 1) if pad_start else []) + list(s) + ([EOS] if eos else [])
        s_total, s_N = 0.0, 0
        for i in range(n - 1, len(tokens)):
            s_total += log(model(tuple(tokens[i - n + 1:i]))[index[tokens[i]]])
            s_N += 1
        total, N = total + s_total, N + s_N + (n - 1 if count_padding else 0)
        if s_N:
            per.append(base ** (sign * s_total / s_N))
    return float(np.mean(per)) if per_sentence else float(base ** (sign * total / N))


def perplexity_mistakes(model, vocab, sentences, n):
    run = lambda **kw: _perplexity_with(model, vocab, sentences, n, **kw)  # noqa: E731
    return {
        "2 ** (mean natural log): the base of the power must match the base of the log (2 ** with log2, "
        "or e ** with ln)": run(log=np.log),
        "e ** (mean log2): the base of the power must match the base of the log": run(base=np.e),
        "the inverse of the perplexity (a missing minus sign: 2 ** (+mean log2 p))": run(sign=1),
        "</s> left out (the end of each sentence is a prediction too)": run(eos=False),
        "the mean of per-sentence perplexities (average the log-probabilities over all tokens first)":
            run(per_sentence=True),
        "N counting the <s> padding (only predicted tokens count)": run(count_padding=True),
        "no <s> padding (the first n-1 tokens of each sentence are never predicted)": run(pad_start=False),
    }


def _random_table(rng, contexts, V):
    return {h: rng.dirichlet(np.ones(V)) for h in contexts}


def test_perplexity(perplexity, check_close, namespace):
    use_reference_parts(namespace, count_ngrams=ref.count_ngrams, add_delta_probs=ref.add_delta_probs)
    for seed in SEEDS:
        n = ORDERS[seed]
        sentences, vocab = random_sentences(seed)
        held_out, _ = random_sentences(seed + 50, words=vocab[:-2])
        counts = ref.count_ngrams(sentences, n)
        rng = np.random.default_rng(seed)
        table = _random_table(rng, sorted(counts), len(vocab))
        models = {
            f"an add-delta (delta=0.5) model of order {n}":
                TableModel({h: ref.add_delta_probs(counts, h, vocab, 0.5) for h in counts}, n, vocab,
                           default=np.full(len(vocab), 1 / len(vocab))),
            f"a random model of order {n}":
                TableModel(table, n, vocab, default=rng.dirichlet(np.ones(len(vocab)))),
        }
        for name, model in models.items():
            what = f"perplexity of {name} on {len(held_out)} held-out sentences"
            got = _call(what, perplexity, model, vocab, held_out, n)
            expected = ref.perplexity(model, vocab, held_out, n)
            hint = diagnose(got, perplexity_mistakes(model, vocab, held_out, n)) or \
                "2 ** (-(1/N) sum log2 P(w | h)) over every token after the <s> padding, </s> included."
            check_close(what, got, expected, (), hint)


# ---------------------------------------------------------------- Part D: continuation_probs

def continuation_mistakes(counts, vocab):
    raw = Counter()
    for following in counts.values():
        raw.update({w: c for w, c in following.items() if c > 0})
    after = Counter()
    for h, following in counts.items():
        after[h[0]] += sum(1 for c in following.values() if c > 0)
    before = Counter(w for following in counts.values() for w, c in following.items() if c > 0)
    no_bos = Counter(w for h, following in counts.items() if h != (BOS,) for w, c in following.items() if c > 0)

    def normalised(counter):
        x = np.array([counter[w] for w in vocab], dtype=float)
        return x / x.sum() if x.sum() else x

    return {
        "raw unigram frequencies c(w) / N (Kneser-Ney counts the distinct contexts w follows, "
        "not how often it occurs)": normalised(raw),
        "the distinct *followers* of w, N1+(w .), instead of the distinct contexts before w, N1+(. w)":
            normalised(after),
        "unnormalised counts N1+(. w) (divide by N1+(. .), the number of distinct bigrams)":
            np.array([before[w] for w in vocab], dtype=float),
        "continuation counts that leave out the context (<s>,) (a sentence start is a context too)":
            normalised(no_bos),
    }


def test_continuation_probs(continuation_probs, check_close, namespace):
    use_reference_parts(namespace, count_ngrams=ref.count_ngrams, add_delta_probs=ref.add_delta_probs,
                        perplexity=ref.perplexity)
    for seed in SEEDS:
        sentences, vocab = random_sentences(seed, n_sentences=8)
        counts = ref.count_ngrams(sentences, 2)
        what = f"continuation_probs on the bigram counts of {len(sentences)} random sentences"
        got = _call(what, continuation_probs, counts, vocab)
        hint = diagnose(got, continuation_mistakes(counts, vocab)) or \
            "P_cont(w) = N1+(. w) / N1+(. .): the number of distinct contexts w follows, over the number of distinct bigrams."
        check_close(what, got, ref.continuation_probs(counts, vocab), ("token",), hint, names=vocab)


# ---------------------------------------------------------------- Part E: kneser_ney_probs

def kneser_ney_mistakes(counts, context, vocab, d, p_cont):
    following = counts.get(tuple(context), {})
    c = np.array([following.get(w, 0) for w in vocab], dtype=float)
    c_v, types = np.float64(sum(following.values())), sum(1 for k in following.values() if k > 0)
    right = ref.kneser_ney_probs(counts, context, vocab, d, p_cont)
    raw = Counter()
    for f in counts.values():
        raw.update(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_raw = np.array([raw[w] for w in vocab], dtype=float) / sum(raw.values())
        return {
            "an interpolation weight of d (it is d * N1+(v .) / c(v): the discounted mass)":
                np.maximum(c - d, 0) / c_v + d * p_cont,
            "a discount that is not floored at zero (max(c(v, w) - d, 0): unseen pairs go negative)":
                (c - d) / c_v + d * types / c_v * p_cont,
            "no discount in the first term (then the weight on P_cont is mass that was never freed)":
                c / c_v + d * types / c_v * p_cont,
            "zeros for an unseen context (an unseen context gives P_cont)":
                np.zeros(len(vocab)) if c_v == 0 else right + 1,
            "raw unigram frequencies as the lower order (use the p_cont you are given)":
                (np.maximum(c - d, 0) / c_v + d * types / c_v * p_raw) if c_v else p_raw,
        }


def test_kneser_ney_probs(kneser_ney_probs, check_close, namespace):
    use_reference_parts(namespace, count_ngrams=ref.count_ngrams, add_delta_probs=ref.add_delta_probs,
                        perplexity=ref.perplexity, continuation_probs=ref.continuation_probs)
    for seed, d in zip(SEEDS, (0.75, 0.5, 0.9)):
        sentences, vocab = random_sentences(seed, n_sentences=8)
        counts = ref.count_ngrams(sentences, 2)
        p_cont = ref.continuation_probs(counts, vocab)
        contexts = sorted(counts, key=lambda h: -sum(counts[h].values()))[:3] + [(UNSEEN_WORD,)]
        for h in contexts:
            kind = "seen" if h in counts else "unseen"
            what = f"kneser_ney_probs for the {kind} context {h} with d={d:g}"
            got = _call(what, kneser_ney_probs, counts, h, vocab, d, p_cont)
            expected = ref.kneser_ney_probs(counts, h, vocab, d, p_cont)
            hint = diagnose(got, kneser_ney_mistakes(counts, h, vocab, d, p_cont)) or \
                "P_KN(w | v) = max(c(v, w) - d, 0) / c(v) + d * N1+(v .) / c(v) * P_cont(w)."
            arr = np.asarray(got, dtype=float) if isinstance(got, (np.ndarray, list, tuple)) else None
            if arr is not None and arr.shape == expected.shape:
                check_close(f"the sum over the vocabulary of {what}", arr.sum(), 1.0, (), hint)
            check_close(what, got, expected, ("token",), hint, names=vocab)


# ---------------------------------------------------------------- Part F: generate

def sampling_model(seed, n):
    """A random order-n model over three words whose sentences end soon (P(</s>) >= 0.2 everywhere)."""
    rng = np.random.default_rng(seed)
    words = sorted(str(w) for w in rng.choice(WORDS, size=3, replace=False))
    vocab = words + [EOS]
    contexts = [(BOS,) * (n - 1 - k) + tail for k in range(n) for tail in itertools.product(words, repeat=k)]
    table = {}
    for h in sorted(contexts):
        p = rng.dirichlet(np.full(len(vocab), 0.7))
        table[h] = 0.8 * p + 0.2 * np.eye(len(vocab))[-1]
    return vocab, table


N_SENTENCES = 1500
MAX_LEN = 40


def _tally(sentences, n, vocab):
    """counts[context] -> draws per vocabulary token, replayed from the sentences."""
    counts = {}
    for s in sentences:
        h = (BOS,) * (n - 1)
        for w in list(s) + ([EOS] if len(s) < MAX_LEN else []):
            counts.setdefault(h, np.zeros(len(vocab), dtype=int))[vocab.index(w)] += 1
            h = (h + (w,))[1:]
    return counts


def _generate_hint(sentences, model, table, n, vocab):
    start = (BOS,) * (n - 1)
    if n > 1 and model.calls and all(h == start for h in model.calls):
        return "every token was drawn from the start context: update the context with each new token."
    tallies = _tally(sentences, n, vocab)
    if all(np.count_nonzero(t) == 1 and t.argmax() == np.argmax(table[h]) for h, t in tallies.items()):
        return ("every draw is the most probable token (argmax): sample instead, e.g. "
                "rng.choice(len(vocab), p=probs).")
    if len({tuple(s) for s in sentences}) == 1:
        return ("all the sentences are identical: draw every token from the rng you are given "
                "(and do not re-create a generator inside generate).")
    uniform = all(abs(t[i] / t.sum() - 1 / len(vocab)) < 0.05 for h, t in tallies.items() if t.sum() > 300
                  for i in range(len(vocab)))
    if uniform:
        return "the draws look uniform: pass the model's probabilities to the sampler (p=probs)."
    return "draw each token from model(context) with the rng, e.g. rng.choice(len(vocab), p=probs)."


def _check_sentence(s, vocab, what):
    if not isinstance(s, (list, tuple)):
        raise AssertionError(f"{what}: generate returned a {type(s).__name__}; it must return a list of tokens.")
    if EOS in s:
        raise AssertionError(f"{what}: the sentence contains '</s>': stop when the end symbol is drawn, "
                             "without appending it.")
    if BOS in s:
        raise AssertionError(f"{what}: the sentence contains '<s>': the padding is context, not output.")
    bad = [w for w in s if w not in vocab]
    if bad:
        raise AssertionError(f"{what}: the sentence contains {bad[0]!r}, which is not in the vocabulary.")
    if len(s) > MAX_LEN:
        raise AssertionError(f"{what}: the sentence has {len(s)} tokens, more than max_len={MAX_LEN}.")


def test_generate(generate, check_frequencies, namespace):
    use_reference_parts(namespace, count_ngrams=ref.count_ngrams, add_delta_probs=ref.add_delta_probs,
                        perplexity=ref.perplexity, continuation_probs=ref.continuation_probs,
                        kneser_ney_probs=ref.kneser_ney_probs)
    for seed, n in ((601, 2), (602, 3), (603, 1)):
        vocab, table = sampling_model(seed, n)
        what = f"generate from a random order-{n} model"
        # the same seed must give the same sentences
        runs = []
        for _ in range(2):
            model = TableModel(table, n, vocab, who="generate", max_calls=10 * MAX_LEN)
            rng = np.random.default_rng(seed)
            runs.append([_call(what, generate, model, vocab, n, rng, max_len=MAX_LEN) for _ in range(5)])
        if runs[0] != runs[1]:
            raise AssertionError(f"{what}: two runs with identically seeded generators gave different sentences "
                                 f"({runs[0][0]} and {runs[1][0]}): draw from the rng argument, not from np.random.")
        # the draws must follow the model's probabilities
        model = TableModel(table, n, vocab, who="generate")
        rng = np.random.default_rng(seed + 1000)
        sentences = []
        for _ in range(N_SENTENCES):
            model.max_calls = len(model.calls) + 3 * (MAX_LEN + 1)  # generous: some students call it twice a step
            s = _call(what, generate, model, vocab, n, rng, max_len=MAX_LEN)
            _check_sentence(s, vocab, what)
            sentences.append(list(s))
        hint = _generate_hint(sentences, model, table, n, vocab)
        for h, draws in sorted(_tally(sentences, n, vocab).items()):
            if draws.sum() >= 100:
                check_frequencies(f"{what}: the tokens drawn after {h} in {N_SENTENCES} sentences",
                                  draws, table[h], vocab, hint)
    # a model that never ends: max_len must stop it
    vocab, table = sampling_model(604, 2)
    never = {h: np.r_[p[:-1] / p[:-1].sum(), 0.0] for h, p in table.items()}
    model = TableModel(never, 2, vocab, who="generate", max_calls=3 * 7 + 5)
    s = _call("generate from a model that never draws </s>", generate, model, vocab, 2,
              np.random.default_rng(0), max_len=7)
    if not isinstance(s, (list, tuple)) or len(s) != 7:
        raise AssertionError("generate from a model that never draws </s> with max_len=7: expected 7 tokens, got "
                             f"{s!r}. Hint: stop after max_len tokens even if </s> never comes.")
