"""Hidden tests for the chapter 2 exercise (count_ngrams, add_delta_probs, perplexity,
continuation_probs, kneser_ney_probs, katz_backoff_probs, generate)."""
from collections import Counter

import numpy as np

from grader.hidden_tests import diagnose
from grader.probes.ch02_ngram_language_models import (
    BACKOFF_DISCOUNTS, DISCOUNTS, GENERATE_CASES, MAX_LEN, N_REPRODUCED, N_SENTENCES, ORDERS, SEEDS, add_delta_cases,
    backoff_cases, continuation_case, kneser_ney_case, never_ending_model, perplexity_case, random_sentences,
    sampling_model)
from grader.reference import ch02_ngram_language_models as ref
from grader.wire import Unsupported

BOS, EOS = ref.BOS, ref.EOS


class Returned:
    """What the student's function returned, call by call in the probe's order (``Calls.report``). At the call
    that raised, ``next`` fails as that call did: an AssertionError (from the student or from a test model) with
    its own message, any other error as "<what>: your function raised <error>"."""

    def __init__(self, got, count, part, extra=()):
        raised = got.get("raised") if type(got) is dict else None
        fields = {"results", "raised", *extra}
        well_formed = type(got) is dict and set(got) == fields and type(got["results"]) is list and (
            raised is None or type(raised) is dict and set(raised) == {"type", "message", "where"}
            and all(type(v) is str for v in raised.values()))
        n = len(got["results"]) if well_formed else 0
        if not well_formed or (n != count if raised is None else n >= count):
            raise AssertionError(f"{part}: the grader did not receive the results of the {count} calls it made "
                                 f"(got {_kind(got)}).")
        self.got, self.results, self.raised, self.i = got, got["results"], raised, 0

    def next(self, what):
        if self.i < len(self.results):
            self.i += 1
            return self.results[self.i - 1]
        err = self.raised
        if err["type"] == "AssertionError":
            raise AssertionError(err["message"])
        raise AssertionError(f"{what}: your function raised {err['type']}: {err['message']}{err['where']}")


def _kind(x):
    """What a result is, in words ('a list', 'an object of type builtins.generator', ...)."""
    return x.what if isinstance(x, Unsupported) else f"a {type(x).__name__}"


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


def judge_count_ngrams(got, check_counts):
    cases = [(seed, ORDERS[seed]) for seed in SEEDS] + [(SEEDS[0], 1)]
    returned = Returned(got, len(cases), "count_ngrams")
    for seed, n in cases:
        sentences, _ = random_sentences(seed)
        out = returned.next(f"count_ngrams(sentences, n={n})")
        hint = _count_hint(out, sentences, n) or (
            f"pad each sentence with {n - 1} <s> and one </s>, then count each token after the padding "
            "under the tuple of the n-1 tokens before it.")
        check_counts(f"count_ngrams with n={n} on {len(sentences)} random sentences", out,
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


def _sum_is_one(check_close, what, got, expected, hint):
    """Check the sum over the vocabulary first, when the result has the right shape."""
    try:
        arr = np.asarray(got, dtype=float) if isinstance(got, (np.ndarray, list, tuple)) else None
    except (TypeError, ValueError):
        arr = None
    if arr is not None and arr.shape == expected.shape:
        check_close(f"the sum over the vocabulary of {what}", arr.sum(), 1.0, (), hint)


def judge_add_delta_probs(got, check_close):
    returned = Returned(got, sum(len(add_delta_cases(seed)[2]) for seed in SEEDS), "add_delta_probs")
    for seed in SEEDS:
        counts, vocab, cases = add_delta_cases(seed)
        for h, delta in cases:
            kind = "seen" if h in counts else "unseen"
            what = f"add_delta_probs for the {kind} context {h} with delta={delta:g} (V={len(vocab)})"
            out = returned.next(what)
            expected = ref.add_delta_probs(counts, h, vocab, delta)
            hint = diagnose(out, add_delta_mistakes(counts, h, vocab, delta)) or \
                "P(w | h) = (c(h, w) + delta) / (c(h) + V * delta), with c(h) the sum of the counts after h."
            _sum_is_one(check_close, what, out, expected, hint)
            check_close(what, out, expected, ("token",), hint, names=vocab)


# ---------------------------------------------------------------- Part C: perplexity

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


def judge_perplexity(got, check_close):
    returned = Returned(got, sum(len(perplexity_case(seed)[3]) for seed in SEEDS), "perplexity")
    for seed in SEEDS:
        n, vocab, held_out, models = perplexity_case(seed)
        for name, model in models.items():
            what = f"perplexity of {name} on {len(held_out)} held-out sentences"
            out = returned.next(what)
            expected = ref.perplexity(model, vocab, held_out, n)
            hint = diagnose(out, perplexity_mistakes(model, vocab, held_out, n)) or \
                "2 ** (-(1/N) sum log2 P(w | h)) over every token after the <s> padding, </s> included."
            check_close(what, out, expected, (), hint)


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


def judge_continuation_probs(got, check_close):
    returned = Returned(got, len(SEEDS), "continuation_probs")
    for seed in SEEDS:
        counts, vocab = continuation_case(seed)
        what = f"continuation_probs on random bigram counts ({len(counts)} contexts)"
        out = returned.next(what)
        hint = diagnose(out, continuation_mistakes(counts, vocab)) or \
            "P_cont(w) = N1+(. w) / N1+(. .): the number of distinct contexts w follows, over the number of distinct bigrams."
        check_close(what, out, ref.continuation_probs(counts, vocab), ("token",), hint, names=vocab)


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


def judge_kneser_ney_probs(got, check_close):
    returned = Returned(got, sum(len(kneser_ney_case(seed)[3]) for seed in SEEDS), "kneser_ney_probs")
    for seed, d in zip(SEEDS, DISCOUNTS):
        counts, vocab, p_cont, contexts = kneser_ney_case(seed)
        for h in contexts:
            kind = "seen" if h in counts else "unseen"
            what = f"kneser_ney_probs for the {kind} context {h} with d={d:g}"
            out = returned.next(what)
            expected = ref.kneser_ney_probs(counts, h, vocab, d, p_cont)
            hint = diagnose(out, kneser_ney_mistakes(counts, h, vocab, d, p_cont)) or \
                "P_KN(w | v) = max(c(v, w) - d, 0) / c(v) + d * N1+(v .) / c(v) * P_cont(w)."
            _sum_is_one(check_close, what, out, expected, hint)
            check_close(what, out, expected, ("token",), hint, names=vocab)


# ---------------------------------------------------------------- Part F: katz_backoff_probs

def katz_backoff_mistakes(counts, context, vocab, d, p_lower):
    """Known wrong backoff distributions for one context, those that show in its kind of context (unseen,
    followed by every token, or neither), so that the one named is the one made."""
    following = counts.get(tuple(context), {})
    c = np.array([following.get(w, 0) for w in vocab], dtype=float)
    c_h, p_lower, V = np.float64(sum(following.values())), np.asarray(p_lower, dtype=float), len(vocab)
    if c_h == 0:
        return {"zeros for an unseen context (an unseen context backs off completely: return p_lower)": np.zeros(V),
                "the uniform distribution for an unseen context (it backs off to p_lower, not to 1/V)":
                    np.full(V, 1 / V)}
    seen = c > 0
    if seen.all():
        return {"a discount although every token follows this context (no unseen token can receive the freed "
                "mass: keep c(h, w) / c(h))": (c - d) / c_h}
    freed, seen_mass = d * seen.sum() / c_h, p_lower[seen].sum()
    return {
        "no rescaling of the lower order (alpha(h) is the freed mass divided by the lower-order mass of the "
        "unseen tokens, so that the result sums to one)": np.where(seen, (c - d) / c_h, freed * p_lower),
        "the lower order added to the seen tokens too (that is interpolation, as in Part E; backoff uses it "
        "only for the tokens never seen after h)": np.maximum(c - d, 0) / c_h + freed * p_lower,
        "no discount on the seen tokens (the mass for the unseen ones must come from somewhere)":
            np.where(seen, c / c_h, freed / (1 - seen_mass) * p_lower),
        "alpha(h) divided by the lower-order mass of the seen tokens instead of the unseen ones":
            np.where(seen, (c - d) / c_h, freed / seen_mass * p_lower),
    }


def judge_katz_backoff_probs(got, check_close):
    returned = Returned(got, sum(len(backoff_cases(seed)[2]) for seed in SEEDS), "katz_backoff_probs")
    for seed, d in zip(SEEDS, BACKOFF_DISCOUNTS):
        counts, vocab, cases = backoff_cases(seed)
        for h, p_lower in cases:
            following = counts.get(h, {})
            kind = "unseen" if not following else "seen" if len(following) < len(vocab) else "every-token"
            what = f"katz_backoff_probs for the {kind} context {h} with d={d:g}"
            out = returned.next(what)
            expected = ref.katz_backoff_probs(counts, h, vocab, d, p_lower)
            hint = diagnose(out, katz_backoff_mistakes(counts, h, vocab, d, p_lower)) or (
                "(c(h, w) - d) / c(h) for the tokens seen after h; alpha(h) * p_lower(w) for the others, with "
                "alpha(h) = (d * N1+(h .) / c(h)) / (1 - sum of p_lower over the seen tokens).")
            _sum_is_one(check_close, what, out, expected, hint)
            check_close(what, out, expected, ("token",), hint, names=vocab)


# ---------------------------------------------------------------- Part G: generate

def _tally(sentences, n, vocab):
    """counts[context] -> draws per vocabulary token, replayed from the sentences."""
    counts = {}
    for s in sentences:
        h = (BOS,) * (n - 1)
        for w in list(s) + ([EOS] if len(s) < MAX_LEN else []):
            counts.setdefault(h, np.zeros(len(vocab), dtype=int))[vocab.index(w)] += 1
            h = (h + (w,))[1:]
    return counts


def _generate_hint(sentences, contexts, table, n, vocab):
    """``contexts``: the distinct contexts the student's generate asked the model about."""
    start = (BOS,) * (n - 1)
    if n > 1 and contexts and all(tuple(h) == start for h in contexts):
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
        raise AssertionError(f"{what}: generate returned {_kind(s)}; it must return a list of tokens.")
    if any(isinstance(w, str) and w == EOS for w in s):
        raise AssertionError(f"{what}: the sentence contains '</s>': stop when the end symbol is drawn, "
                             "without appending it.")
    if any(isinstance(w, str) and w == BOS for w in s):
        raise AssertionError(f"{what}: the sentence contains '<s>': the padding is context, not output.")
    bad = [w for w in s if not isinstance(w, str) or w not in vocab]
    if bad:
        raise AssertionError(f"{what}: the sentence contains {bad[0]!r}, which is not in the vocabulary.")
    if len(s) > MAX_LEN:
        raise AssertionError(f"{what}: the sentence has {len(s)} tokens, more than max_len={MAX_LEN}.")


def _same(a, b):
    """Equality of two runs of results that never raises (arrays, tensors and odd values compare by repr)."""
    def key(x):
        if isinstance(x, (list, tuple)):
            return type(x).__name__, tuple(key(v) for v in x)
        return x if type(x) in (str, int, float, bool, type(None)) else repr(x)
    return key(a) == key(b)


def judge_generate(got, check_frequencies):
    returned = Returned(got, len(GENERATE_CASES) * (2 * N_REPRODUCED + N_SENTENCES) + 1, "generate", ("contexts",))
    contexts = got["contexts"]
    for i, (seed, n) in enumerate(GENERATE_CASES):
        vocab, table = sampling_model(seed, n)
        what = f"generate from a random order-{n} model"
        # the same seed must give the same sentences
        runs = [[returned.next(what) for _ in range(N_REPRODUCED)] for _ in range(2)]
        if not _same(runs[0], runs[1]):
            raise AssertionError(f"{what}: two runs with identically seeded generators gave different sentences "
                                 f"({runs[0][0]} and {runs[1][0]}): draw from the rng argument, not from np.random.")
        # the draws must follow the model's probabilities
        sentences = []
        for _ in range(N_SENTENCES):
            s = returned.next(what)
            _check_sentence(s, vocab, what)
            sentences.append(list(s))
        if type(contexts) is not list or len(contexts) <= i or type(contexts[i]) is not list:
            raise AssertionError("generate: the grader did not receive the contexts the model was asked about.")
        hint = _generate_hint(sentences, contexts[i], table, n, vocab)
        for h, draws in sorted(_tally(sentences, n, vocab).items()):
            if draws.sum() >= 100:
                check_frequencies(f"{what}: the tokens drawn after {h} in {N_SENTENCES} sentences",
                                  draws, table[h], vocab, hint)
    # a model that never ends: max_len must stop it
    *_, max_len = never_ending_model()
    what = "generate from a model that never draws </s>"
    s = returned.next(what)
    if not isinstance(s, (list, tuple)) or len(s) != max_len:
        raise AssertionError(f"{what} with max_len={max_len}: expected {max_len} tokens, got {s!r}. "
                             "Hint: stop after max_len tokens even if </s> never comes.")
