"""The chapter 2 reference against brute force and torch, the hidden tests against the reference and
each known mistake, and the exercise's data against the course's offline data."""
import itertools
import math
import re
from collections import Counter

import numpy as np
import pytest
import torch

from counting import counted
from grader import datasets
from grader.course import EXERCISES, SOLUTIONS
from grader.hidden_tests import ch02_ngram_language_models as hidden
from grader.hidden_tests import check_part
from grader.probes import ch02_ngram_language_models as probes
from grader.reference import ch02_ngram_language_models as ref
from submission_bank import setup_namespace

A = "ch02_ngram_language_models"
BOS, EOS = ref.BOS, ref.EOS


@pytest.fixture(scope="module")
def nb():
    return setup_namespace(SOLUTIONS, A)


# --- the data ---

def test_released_notebook_text_is_the_course_text():
    """The student's notebook reads its text from the file next to it: it must be python_docs_text()."""
    namespace = setup_namespace(EXERCISES, A)
    assert namespace["docs_text"] == datasets.python_docs_text()
    assert namespace["train_sentences"][0] == list(datasets.python_docs_text().split("\n")[0])
    assert namespace["vocab"][-1] == EOS and BOS not in namespace["vocab"]
    assert all(set(s) <= set(namespace["vocab"]) for s in namespace["heldout_sentences"])


# --- the reference against brute force ---

def brute_force_counts(sentences, n):
    """n-grams as windows of the padded sentences, built with zip instead of slices."""
    out = Counter()
    for s in sentences:
        tokens = [BOS] * (n - 1) + s + [EOS]
        out.update(zip(*(tokens[k:] for k in range(n))))
    return out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_count_ngrams_matches_brute_force(seed, n):
    sentences, _ = probes.random_sentences(seed)
    counts = ref.count_ngrams(sentences, n)
    flat = Counter({h + (w,): c for h, following in counts.items() for w, c in following.items()})
    assert flat == brute_force_counts(sentences, n)
    assert sum(flat.values()) == sum(len(s) + 1 for s in sentences)  # one prediction per token and per EOS


@pytest.mark.parametrize("delta", [0.0, 0.01, 1.0])
def test_add_delta_normalises_and_reduces_to_counting(delta):
    sentences, vocab = probes.random_sentences(5)
    counts = ref.count_ngrams(sentences, 2)
    for h in list(counts) + [(probes.UNSEEN_WORD,)]:
        if delta == 0 and h not in counts:
            continue
        p = ref.add_delta_probs(counts, h, vocab, delta)
        assert p.shape == (len(vocab),) and np.isclose(p.sum(), 1) and (p >= 0).all()
        if delta == 0:
            c = sum(counts[h].values())
            assert np.allclose(p, [counts[h][w] / c for w in vocab])
        if h not in counts:
            assert np.allclose(p, 1 / len(vocab))


def test_counting_maximises_the_likelihood():
    """c(h, w) / c(h) beats every nearby distribution on the training log-likelihood of its context."""
    sentences, vocab = probes.random_sentences(6)
    counts = ref.count_ngrams(sentences, 2)
    h = max(counts, key=lambda k: sum(counts[k].values()))
    c = np.array([counts[h][w] for w in vocab], dtype=float)
    mle = ref.add_delta_probs(counts, h, vocab, 0.0)
    loglik = lambda p: np.sum(c[c > 0] * np.log(p[c > 0]))  # noqa: E731
    rng = np.random.default_rng(0)
    for _ in range(50):
        other = np.clip(mle + 0.05 * rng.normal(size=len(vocab)), 1e-6, None)
        assert loglik(other / other.sum()) < loglik(mle)


def test_perplexity_is_exp_of_torch_cross_entropy():
    sentences, vocab = probes.random_sentences(7)
    held_out, _ = probes.random_sentences(8, words=vocab[:-2])
    counts = ref.count_ngrams(sentences, 3)
    model = lambda h: ref.add_delta_probs(counts, h, vocab, 0.3)  # noqa: E731
    rows, targets = [], []
    for s in held_out:
        tokens = [BOS, BOS] + s + [EOS]
        for i in range(2, len(tokens)):
            rows.append(np.log(model(tuple(tokens[i - 2:i]))))
            targets.append(vocab.index(tokens[i]))
    nats = torch.nn.functional.cross_entropy(torch.tensor(np.array(rows)), torch.tensor(targets)).item()
    assert math.isclose(ref.perplexity(model, vocab, held_out, 3), math.exp(nats), rel_tol=1e-10)


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    sentences, vocab = probes.random_sentences(9)
    assert math.isclose(ref.perplexity(lambda h: np.full(len(vocab), 1 / len(vocab)), vocab, sentences, 2),
                        len(vocab))


def test_continuation_probs_count_distinct_predecessors():
    sentences, vocab = probes.random_sentences(10, n_sentences=8)
    counts = ref.count_ngrams(sentences, 2)
    pairs = {(v, w) for s in sentences for v, w in zip([BOS] + s, s + [EOS])}  # distinct bigram types
    expected = np.array([sum(1 for _, w2 in pairs if w2 == w) for w in vocab]) / len(pairs)
    assert np.allclose(ref.continuation_probs(counts, vocab), expected)


@pytest.mark.parametrize("d", [0.0, 0.3, 0.75, 1.0])
def test_kneser_ney_normalises_and_reduces_to_counting(d):
    sentences, vocab = probes.random_sentences(11, n_sentences=8)
    counts = ref.count_ngrams(sentences, 2)
    p_cont = ref.continuation_probs(counts, vocab)
    for h in list(counts) + [(probes.UNSEEN_WORD,)]:
        p = ref.kneser_ney_probs(counts, h, vocab, d, p_cont)
        assert np.isclose(p.sum(), 1) and (p >= 0).all(), h
        if h not in counts:
            assert np.allclose(p, p_cont)
        elif d == 0:
            assert np.allclose(p, ref.add_delta_probs(counts, h, vocab, 0.0))


def _katz_loop(counts, context, vocab, d, p_lower):
    """The chapter's equation token by token, in plain Python (another correct answer)."""
    row = counts.get(tuple(context), {})
    c_h = sum(row.values())
    if not c_h:
        return list(p_lower)
    seen = [w for w in vocab if row.get(w, 0) > 0]
    if len(seen) == len(vocab):
        return [row[w] / c_h for w in vocab]
    alpha = (d * len(seen) / c_h) / (1 - sum(p for w, p in zip(vocab, p_lower) if w in seen))
    return [(row[w] - d) / c_h if w in seen else alpha * p for w, p in zip(vocab, p_lower)]


@pytest.mark.parametrize("d", [0.1, 0.5, 0.75, 1.0])
def test_katz_backoff_sums_to_one_and_backs_off_only_for_unseen_tokens(d):
    """A trigram model backing off to add-delta bigrams (positive everywhere, as the part asks): a distribution
    in every context, the discounted counts where seen, the lower order (rescaled by one alpha per context)
    where not."""
    sentences, vocab = probes.random_sentences(12, n_sentences=10)
    trigrams, bigrams = ref.count_ngrams(sentences, 3), ref.count_ngrams(sentences, 2)
    p_cont = ref.continuation_probs(bigrams, vocab)
    for h in list(trigrams) + [(probes.UNSEEN_WORD, probes.UNSEEN_WORD)]:
        p_lower = ref.add_delta_probs(bigrams, h[1:], vocab, 0.1)
        p = ref.katz_backoff_probs(trigrams, h, vocab, d, p_lower)
        assert np.isclose(p.sum(), 1) and (p >= 0).all(), h
        np.testing.assert_allclose(p, _katz_loop(trigrams, h, vocab, d, p_lower))
        row = trigrams.get(h, {})
        seen = np.array([row.get(w, 0) > 0 for w in vocab])
        if not row:
            np.testing.assert_allclose(p, p_lower)
            continue
        np.testing.assert_allclose(p[seen], [(row[w] - d) / sum(row.values()) for w in np.array(vocab)[seen]])
        ratio = p[~seen] / p_lower[~seen]
        assert np.allclose(ratio, ratio[0])  # one alpha(h) for every unseen token
    every = {("a",): Counter({w: k + 1 for k, w in enumerate(vocab)})}
    np.testing.assert_allclose(ref.katz_backoff_probs(every, ("a",), vocab, d, p_cont),
                               np.arange(1, len(vocab) + 1) / sum(range(1, len(vocab) + 1)))


def test_generate_samples_sentences_with_their_probabilities():
    """Frequencies of whole sentences from 20000 draws against their exact probabilities."""
    vocab, table = probes.sampling_model(601, 2)
    model = lambda h: table[tuple(h)]  # noqa: E731
    rng = np.random.default_rng(0)
    draws = Counter(tuple(ref.generate(model, vocab, 2, rng, max_len=30)) for _ in range(20000))

    def probability(sentence):
        p, h = 1.0, (BOS,)
        for w in list(sentence) + [EOS]:
            p *= table[h][vocab.index(w)]
            h = (w,)
        return p

    for sentence, count in draws.most_common(8):
        p = probability(sentence)
        assert abs(count / 20000 - p) < 5 * math.sqrt(p * (1 - p) / 20000), sentence
    total_short = sum(probability(s) for k in range(4) for s in itertools.product(vocab[:-1], repeat=k))
    observed_short = sum(c for s, c in draws.items() if len(s) < 4) / 20000
    assert abs(observed_short - total_short) < 5 * math.sqrt(total_short * (1 - total_short) / 20000)


def test_generate_is_reproducible_and_stops_at_max_len():
    vocab, table = probes.sampling_model(602, 3)
    model = lambda h: table[tuple(h)]  # noqa: E731
    runs = [[ref.generate(model, vocab, 3, np.random.default_rng(4)) for _ in range(10)] for _ in range(2)]
    assert runs[0] == runs[1]
    never = lambda h: np.r_[np.ones(len(vocab) - 1) / (len(vocab) - 1), 0.0]  # noqa: E731
    assert len(ref.generate(never, vocab, 3, np.random.default_rng(0), max_len=9)) == 9


# --- the setup cell's check helpers ---

def test_check_counts_names_the_first_wrong_ngram(nb):
    with pytest.raises(AssertionError, match=r"'b' after the context \('a',\): expected 2, got 1"):
        nb["check_counts"]("x", {("a",): {"b": 1}}, {("a",): {"b": 2}})
    with pytest.raises(AssertionError, match="not of the form counts"):
        nb["check_counts"]("x", {("a", "b"): 2}, {("a",): {"b": 2}})
    nb["check_counts"]("x", {("a",): Counter(b=2, c=0)}, {("a",): {"b": 2}})


def test_check_close_names_the_token(nb):
    with pytest.raises(AssertionError, match="first at token 'b': expected 0.5, got 0.4"):
        nb["check_close"]("x", [0.5, 0.4], [0.5, 0.5], ("token",), names=["a", "b"])


def test_check_frequencies_accepts_noise_and_rejects_bias(nb):
    rng = np.random.default_rng(0)
    p = np.array([0.2, 0.5, 0.3])
    nb["check_frequencies"]("fair", np.bincount(rng.choice(3, size=5000, p=p), minlength=3), p, "abc")
    with pytest.raises(AssertionError, match="token 'a' was drawn"):
        nb["check_frequencies"]("biased", [1300, 2400, 1300], p, "abc")
    with pytest.raises(AssertionError, match="token 'c' was drawn 1 times"):
        nb["check_frequencies"]("impossible", [500, 499, 1], [0.5, 0.5, 0.0], "abc")


# --- the hidden tests: pass on the reference, name each known mistake ---

PARTS = ("count_ngrams", "add_delta_probs", "perplexity", "continuation_probs", "kneser_ney_probs", "katz_backoff_probs",
         "generate")


def _check(nb, part, fn, namespace=None, wrap=dict):
    """Probe ``fn`` and judge it as grading does, with the notebook's checkers (passed through ``wrap``)."""
    checker = {"count_ngrams": "check_counts", "generate": "check_frequencies"}.get(part, "check_close")
    check_part(A, part, fn, namespace, **wrap(**{checker: nb[checker]}))


def test_hidden_tests_pass_on_the_reference(nb, capsys):
    namespace, calls = {}, []

    def recording(**checkers):
        wrapped, made = counted(**checkers)
        recording.made = made
        return wrapped
    for part in PARTS:
        _check(nb, part, getattr(ref, part), namespace, wrap=recording)
        assert recording.made, part
        calls += recording.made
    assert capsys.readouterr().out.count("ok:") == len(calls)  # every check the judges made passed
    assert namespace["count_ngrams"] is ref.count_ngrams and namespace["kneser_ney_probs"] is ref.kneser_ney_probs


def test_probes_hold_no_reference_code():
    """The probe module is readable by student code when grading: no reference, no judge, no verdicts."""
    source = open(probes.__file__).read()
    assert not re.search(r"^\s*(from|import)\s+grader\.(reference|hidden_tests|verdicts)", source, re.M)
    assert probes.PARTS == {part: PARTS[:i] for i, part in enumerate(PARTS) if i}


def test_probe_inputs_are_well_formed_counts():
    """The count tables drawn for the later parts look like counts of padded sentences."""
    for seed in probes.SEEDS:
        n = probes.ORDERS[seed]
        counts, vocab, cases = probes.add_delta_cases(seed)
        assert (probes.BOS,) * (n - 1) in counts and vocab[-1] == EOS
        for h, following in counts.items():
            assert isinstance(h, tuple) and len(h) == n - 1 and EOS not in h
            assert following and set(following) <= set(vocab) - {probes.UNSEEN_WORD}
            assert all(isinstance(c, int) and c > 0 for c in following.values())
        assert [h in counts for h, _ in cases] == [True] * 5 + [False] * 2
        bigrams, vocab = probes.continuation_case(seed)
        assert (BOS,) in bigrams and any(c > 1 for f in bigrams.values() for c in f.values())


def test_kneser_ney_case_gives_the_continuation_probs_of_its_counts():
    for seed in probes.SEEDS:
        counts, vocab, p_cont, contexts = probes.kneser_ney_case(seed)
        assert np.allclose(p_cont, ref.continuation_probs(counts, vocab))
        assert [h in counts for h in contexts] == [True, True, True, False]


def _named(mistake):
    return re.escape("your result matches " + mistake.split(" (")[0][:25])


COUNT_STUDENTS = {
    "no <s> padding at the start (the first n-1 tokens of each sentence are never predicted)":
        lambda s, n: hidden._count_with(s, n, 0, 1),
    "a single <s> at the start instead of n-1 (off by one in the padding)": lambda s, n: hidden._count_with(s, n, 1, 1),
    "n copies of <s> at the start, one too many (a <s> is then counted as a predicted token)":
        lambda s, n: hidden._count_with(s, n, n, 1),
    "no </s> at the end of each sentence": lambda s, n: hidden._count_with(s, n, n - 1, 0),
    "n-1 copies of </s> at the end (only one end symbol is predicted)": lambda s, n: hidden._count_with(s, n, n - 1, n - 1),
    "one stream of joined sentences (n-grams cross sentence boundaries; pad each sentence on its own)":
        lambda s, n: hidden._count_with(s, n, n - 1, 1, joined=True),
}


def test_count_students_cover_the_catalogue():
    assert set(COUNT_STUDENTS) == set(hidden.count_mistakes([["a"]], 2))


@pytest.mark.parametrize("mistake", sorted(COUNT_STUDENTS))
def test_hidden_count_test_names_each_mistake(nb, mistake):
    with pytest.raises(AssertionError, match=_named(mistake)):
        _check(nb, "count_ngrams", COUNT_STUDENTS[mistake])


def test_hidden_count_test_recognises_flat_counts(nb):
    flat = lambda s, n: dict(brute_force_counts(s, n))  # noqa: E731
    with pytest.raises(AssertionError, match="flat counts of whole n-gram tuples"):
        _check(nb, "count_ngrams", flat)


def _from_catalogue(catalogue, name):
    return lambda *args: catalogue(*args)[name]


@pytest.mark.parametrize("mistake", sorted(hidden.add_delta_mistakes({}, (), ["a", EOS], 1.0)))
def test_hidden_add_delta_test_names_each_mistake(nb, mistake):
    if mistake.startswith("zeros"):
        def student(counts, h, vocab, delta):
            if tuple(h) not in counts:
                return np.zeros(len(vocab))
            return ref.add_delta_probs(counts, h, vocab, delta)
    else:
        student = _from_catalogue(hidden.add_delta_mistakes, mistake)
    with pytest.raises(AssertionError, match=_named(mistake)):
        _check(nb, "add_delta_probs", student)


PERPLEXITY_STUDENTS = {
    name: (lambda kw: lambda m, v, s, n: hidden._perplexity_with(m, v, s, n, **kw))(kw)
    for name, kw in zip(
        hidden.perplexity_mistakes(lambda h: np.ones(2) / 2, ["a", EOS], [["a"]], 1),
        [dict(log=np.log), dict(base=np.e), dict(sign=1), dict(eos=False), dict(per_sentence=True),
         dict(count_padding=True), dict(pad_start=False)])
}


@pytest.mark.parametrize("mistake", sorted(PERPLEXITY_STUDENTS))
def test_hidden_perplexity_test_names_each_mistake(nb, mistake):
    with pytest.raises(AssertionError, match=_named(mistake)):
        _check(nb, "perplexity", PERPLEXITY_STUDENTS[mistake])


def test_perplexity_catalogue_is_in_the_expected_order():
    """PERPLEXITY_STUDENTS pairs names and settings by position: check the pairing on its words."""
    names = list(hidden.perplexity_mistakes(lambda h: np.ones(2) / 2, ["a", EOS], [["a"]], 1))
    assert list(PERPLEXITY_STUDENTS) == names and len(names) == 7  # zip dropped no name and no setting
    assert "natural log" in names[0] and "e **" in names[1] and "inverse" in names[2] and "</s>" in names[3]
    assert "per-sentence" in names[4] and "padding" in names[5] and "no <s>" in names[6]


@pytest.mark.parametrize("mistake", sorted(hidden.continuation_mistakes({(BOS,): Counter(a=1)}, ["a", EOS])))
def test_hidden_continuation_test_names_each_mistake(nb, mistake):
    with pytest.raises(AssertionError, match=_named(mistake)):
        _check(nb, "continuation_probs", _from_catalogue(hidden.continuation_mistakes, mistake))


@pytest.mark.parametrize("mistake", sorted(hidden.kneser_ney_mistakes({}, ("a",), ["a", EOS], 0.5, np.ones(2) / 2)))
def test_hidden_kneser_ney_test_names_each_mistake(nb, mistake):
    if mistake.startswith("zeros"):
        def student(counts, h, vocab, d, p_cont):
            if tuple(h) not in counts:
                return np.zeros(len(vocab))
            return ref.kneser_ney_probs(counts, h, vocab, d, p_cont)
    else:
        student = _from_catalogue(hidden.kneser_ney_mistakes, mistake)
    with pytest.raises(AssertionError, match=_named(mistake)):
        _check(nb, "kneser_ney_probs", student)


KATZ_MISTAKES = sorted(set().union(*(hidden.katz_backoff_mistakes(counts, h, ["a", "b", EOS], 0.5, np.ones(3) / 3)
                                     for counts, h in (({}, ("a",)), ({("a",): Counter(a=1, b=1, **{EOS: 1})}, ("a",)),
                                                       ({("a",): Counter(a=2)}, ("a",))))))


def test_the_katz_catalogue_covers_each_kind_of_context():
    assert len(KATZ_MISTAKES) == 7


@pytest.mark.parametrize("mistake", KATZ_MISTAKES)
def test_hidden_katz_backoff_test_names_each_mistake(nb, mistake):
    def student(*args):  # wrong only in the kind of context where this mistake shows
        return hidden.katz_backoff_mistakes(*args).get(mistake, ref.katz_backoff_probs(*args))

    with pytest.raises(AssertionError, match=_named(mistake)):
        _check(nb, "katz_backoff_probs", student)


def test_hidden_katz_backoff_test_checks_the_sum_first(nb):
    def unnormalised(counts, h, vocab, d, p_lower):
        return 2 * ref.katz_backoff_probs(counts, h, vocab, d, p_lower)

    with pytest.raises(AssertionError, match="the sum over the vocabulary of katz_backoff_probs for the seen context"):
        _check(nb, "katz_backoff_probs", unnormalised)


def _greedy(model, vocab, n, rng, max_len=100):
    context, out = (BOS,) * (n - 1), []
    while len(out) < max_len:
        w = vocab[int(np.argmax(model(context)))]
        if w == EOS:
            break
        out.append(w)
        context = (context + (w,))[1:]
    return out


def _start_context_only(model, vocab, n, rng, max_len=100):
    out = []
    while len(out) < max_len:
        w = vocab[rng.choice(len(vocab), p=model((BOS,) * (n - 1)))]
        if w == EOS:
            break
        out.append(w)
    return out


def _own_generator(model, vocab, n, rng, max_len=100):
    return ref.generate(model, vocab, n, np.random.default_rng(0), max_len)


def _global_numpy(model, vocab, n, rng, max_len=100):
    return ref.generate(model, vocab, n, np.random.default_rng(np.random.randint(1 << 30)), max_len)


def _uniform(model, vocab, n, rng, max_len=100):
    return ref.generate(lambda h: model(h) * 0 + 1 / len(vocab), vocab, n, rng, max_len)


def _with_end(model, vocab, n, rng, max_len=100):
    out = ref.generate(model, vocab, n, rng, max_len)
    return out + [EOS] if len(out) < max_len else out


def _context_too_long(model, vocab, n, rng, max_len=100):
    return ref.generate(lambda h: model((BOS,) + tuple(h)), vocab, n, rng, max_len)


def _no_max_len(model, vocab, n, rng, max_len=100):
    return ref.generate(model, vocab, n, rng, max_len=10_000)


def _string(model, vocab, n, rng, max_len=100):
    return " ".join(ref.generate(model, vocab, n, rng, max_len))


GENERATE_STUDENTS = {  # student -> words of the failure message
    _greedy: "most probable token (argmax)",
    _start_context_only: "drawn from the start context",
    _own_generator: "all the sentences are identical",
    _global_numpy: "identically seeded generators gave different sentences",
    _uniform: "the draws look uniform",
    _with_end: "the sentence contains '</s>'",
    _context_too_long: "an order-2 model takes a tuple of the 1 tokens",
    _no_max_len: "stop after max_len tokens",
    _string: "it must return a list of tokens",
}


@pytest.mark.parametrize("student", list(GENERATE_STUDENTS), ids=lambda f: f.__name__)
def test_hidden_generate_test_names_each_mistake(nb, student):
    with pytest.raises(AssertionError, match=re.escape(GENERATE_STUDENTS[student])):
        _check(nb, "generate", student)


def _differs(wrong, right):
    wrong, right = np.asarray(wrong, dtype=float), np.asarray(right, dtype=float)
    return wrong.shape != right.shape or not np.allclose(wrong, right, rtol=1e-5, atol=1e-7)


def test_every_known_mistake_changes_the_output():
    """A 'mistake' equal to the right answer would make its diagnosis meaningless."""
    sentences, vocab = probes.random_sentences(probes.SEEDS[1])
    n = probes.ORDERS[probes.SEEDS[1]]
    right = ref.count_ngrams(sentences, n)
    for name, wrong in hidden.count_mistakes(sentences, n).items():
        assert hidden._flat(wrong) != hidden._flat(right), name
    h = next(iter(right))
    for name, wrong in hidden.add_delta_mistakes(right, h, vocab, 1.0).items():
        assert not np.allclose(wrong, ref.add_delta_probs(right, h, vocab, 1.0)), name
    model = lambda c: ref.add_delta_probs(right, c, vocab, 0.5)  # noqa: E731
    for name, wrong in hidden.perplexity_mistakes(model, vocab, sentences, n).items():
        assert not np.isclose(wrong, ref.perplexity(model, vocab, sentences, n)), name
    bigrams = ref.count_ngrams(sentences, 2)
    for name, wrong in hidden.continuation_mistakes(bigrams, vocab).items():
        assert not np.allclose(wrong, ref.continuation_probs(bigrams, vocab)), name


@pytest.mark.parametrize("seed", probes.SEEDS)
def test_every_known_mistake_shows_on_the_probe_inputs(seed):
    """On the hidden tests' own inputs, every catalogued mistake is caught by at least one case of its seed."""
    counts, vocab, cases = probes.add_delta_cases(seed)
    caught = set()
    for h, delta in cases:
        right = ref.add_delta_probs(counts, h, vocab, delta)
        caught |= {m for m, wrong in hidden.add_delta_mistakes(counts, h, vocab, delta).items()
                   if _differs(wrong, right)}
    assert caught == set(hidden.add_delta_mistakes(counts, cases[0][0], vocab, 1.0))
    n, vocab, held_out, models = probes.perplexity_case(seed)
    for model in models.values():
        right = ref.perplexity(model, vocab, held_out, n)
        for name, wrong in hidden.perplexity_mistakes(model, vocab, held_out, n).items():
            assert not np.isclose(wrong, right, rtol=1e-5), name
    bigrams, vocab = probes.continuation_case(seed)
    for name, wrong in hidden.continuation_mistakes(bigrams, vocab).items():
        assert _differs(wrong, ref.continuation_probs(bigrams, vocab)), name
    counts, vocab, p_cont, contexts = probes.kneser_ney_case(seed)
    d = probes.DISCOUNTS[probes.SEEDS.index(seed)]
    caught = set()
    for h in contexts:
        right = ref.kneser_ney_probs(counts, h, vocab, d, p_cont)
        caught |= {m for m, wrong in hidden.kneser_ney_mistakes(counts, h, vocab, d, p_cont).items()
                   if _differs(wrong, right)}
    assert caught == set(hidden.kneser_ney_mistakes(counts, contexts[0], vocab, d, p_cont))
    counts, vocab, cases = probes.backoff_cases(seed)
    d = probes.BACKOFF_DISCOUNTS[probes.SEEDS.index(seed)]
    caught, kinds = set(), []
    for h, p_lower in cases:
        right = ref.katz_backoff_probs(counts, h, vocab, d, p_lower)
        mistakes = hidden.katz_backoff_mistakes(counts, h, vocab, d, p_lower)
        caught |= {m for m, wrong in mistakes.items() if _differs(wrong, right)}
        kinds.append(len(counts.get(h, {})) / len(vocab))
    assert caught == set(KATZ_MISTAKES) and 0 < kinds[0] < 1 and 0 < kinds[1] < 1 and kinds[2:] == [1, 0]


def test_later_parts_are_graded_on_reference_earlier_parts(nb):
    """A wrong count_ngrams must not cost points again in add_delta_probs' visible checks."""
    namespace = {"count_ngrams": COUNT_STUDENTS["no </s> at the end of each sentence"]}
    _check(nb, "add_delta_probs", ref.add_delta_probs, namespace)
    assert namespace["count_ngrams"] is ref.count_ngrams
    namespace = {name: None for name in PARTS}
    _check(nb, "generate", ref.generate, namespace)
    assert all(namespace[name] is getattr(ref, name) for name in PARTS[:-1]) and namespace["generate"] is None


@pytest.mark.parametrize("part", PARTS)
def test_a_report_without_the_results_fails(nb, part):
    """What reaches a judge comes from the student's kernel: a report short of results must not pass."""
    judge = getattr(hidden, f"judge_{part}")
    checker = {"count_ngrams": "check_counts", "generate": "check_frequencies"}.get(part, "check_close")
    extra = {"contexts": []} if part == "generate" else {}
    for got in ([], {}, None, {"results": [], "raised": None, **extra}, {"results": [None], "raised": None}):
        with pytest.raises(AssertionError, match="the grader did not receive"):
            judge(got, nb[checker])
    probed = getattr(probes, f"probe_{part}")(getattr(ref, part))
    judge(probed, nb[checker])  # the genuine report passes; the same with one result changed does not
    probed["results"][-1] = [] if part != "generate" else ["<s>"]
    with pytest.raises(AssertionError):
        judge(probed, nb[checker])


def test_an_error_fails_at_its_call_with_the_function_named(nb):
    """Results are judged in call order: the calls before an error are judged first, then the error."""
    def count_but_not_unigrams(sentences, n):
        return {(): {}}["unigrams"] if n == 1 else ref.count_ngrams(sentences, n)

    with pytest.raises(AssertionError, match=r"n=1\): your function raised KeyError: 'unigrams'"):
        _check(nb, "count_ngrams", count_but_not_unigrams)

    def numerator_only_in_plain_python(counts, context, vocab, delta):  # ZeroDivisionError on an unseen context
        following = counts.get(tuple(context), {})
        return np.array([(following.get(w, 0) + delta) / sum(following.values()) for w in vocab])

    with pytest.raises(AssertionError, match=_named("delta added to the numerator only")):
        _check(nb, "add_delta_probs", numerator_only_in_plain_python)


# --- other correct answers, written differently, must pass the hidden tests too ---

def _count_defaultdict(sentences, n):
    from collections import defaultdict
    counts = defaultdict(lambda: defaultdict(int))
    for s in sentences:
        padded = ("<s>",) * (n - 1) + tuple(s) + ("</s>",)
        for gram in zip(*(padded[k:] for k in range(n))):
            counts[gram[:-1]][gram[-1]] += 1
    return counts


def _add_delta_list(counts, context, vocab, delta):
    row = counts.get(tuple(context), {})
    denominator = sum(row.values()) + len(vocab) * delta
    return [(row.get(w, 0) + delta) / denominator for w in vocab]


def _perplexity_nats(model, vocab, sentences, n):
    nats = []
    for s in sentences:
        padded = [BOS] * (n - 1) + s + [EOS]
        nats += [-math.log(model(tuple(padded[i:i + n - 1]))[vocab.index(padded[i + n - 1])])
                 for i in range(len(padded) - n + 1)]
    return math.exp(sum(nats) / len(nats))


def _continuation_from_types(counts, vocab):
    types = {(h, w) for h, row in counts.items() for w, c in row.items() if c}
    return np.array([sum(1 for _, v in types if v == w) for w in vocab]) / len(types)


def _kneser_ney_loop(counts, context, vocab, d, p_cont):
    row = counts.get(tuple(context), {})
    c_v = sum(row.values())
    if not c_v:
        return list(p_cont)
    lam = d * len([c for c in row.values() if c]) / c_v
    return [max(row.get(w, 0) - d, 0) / c_v + lam * p for w, p in zip(vocab, p_cont)]


def _generate_inverse_cdf_calling_twice(model, vocab, n, rng, max_len=100):
    out, context = [], [BOS] * (n - 1)
    while len(out) < max_len:
        if model(tuple(context)).sum() <= 0:  # a (wasteful) second call per step
            break
        i = int(np.searchsorted(np.cumsum(model(tuple(context))), rng.random()))
        w = vocab[min(i, len(vocab) - 1)]
        if w == EOS:
            break
        out.append(w)
        context = (context + [w])[len(context) + 1 - (n - 1):] if n > 1 else []
    return out


def _count_numpy_tokens(sentences, n):
    """Counts keyed by numpy string scalars (np.str_), as slicing an array of tokens gives."""
    counts = {}
    for s in sentences:
        tokens = np.array([BOS] * (n - 1) + list(s) + [EOS])
        for i in range(n - 1, len(tokens)):
            counts.setdefault(tuple(tokens[i - n + 1:i]), Counter())[tokens[i]] += 1
    return counts


def _add_delta_that_spoils_its_input(counts, context, vocab, delta):
    p = ref.add_delta_probs(counts, context, vocab, delta)
    counts.clear()
    vocab.reverse()
    return p


def _generate_numpy_tokens(model, vocab, n, rng, max_len=100):
    """Tokens drawn with rng.choice(vocab, ...) are np.str_, and so is the context."""
    context, out = (BOS,) * (n - 1), []
    while len(out) < max_len:
        w = rng.choice(vocab, p=model(context))
        if w == EOS:
            break
        out.append(w)
        context = (context + (w,))[1:]
    return out


def test_other_correct_answers_pass_the_hidden_tests(nb):
    namespace = {}
    for part, student in zip(PARTS, (_count_defaultdict, _add_delta_list, _perplexity_nats, _continuation_from_types,
                                     _kneser_ney_loop, _katz_loop, _generate_inverse_cdf_calling_twice), strict=True):
        _check(nb, part, student, namespace)
    _check(nb, "count_ngrams", _count_numpy_tokens)
    _check(nb, "add_delta_probs", _add_delta_that_spoils_its_input)
    _check(nb, "generate", _generate_numpy_tokens)
