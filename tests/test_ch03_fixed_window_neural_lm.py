"""Chapter 3: the window model's reference against brute force, torch.nn and finite differences;
the hidden tests against the reference and every catalogued mistake; the notebook's data and helpers."""
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from counting import counted
from grader import datasets
from grader.course import SOLUTIONS
from grader.hidden_tests import ch03_fixed_window_neural_lm as hidden
from grader.hidden_tests import check_part
from grader.probes import ch03_fixed_window_neural_lm as probes
from grader.reference import ch03_fixed_window_neural_lm as ref
from submission_bank import setup_namespace

A = "ch03_fixed_window_neural_lm"


def torch_layers(params):
    """The window model as torch.nn layers: Embedding, Flatten (= concatenation), Linear, Tanh, Linear."""
    V, d = params["E"].shape
    H, nd = params["W"].shape
    layers = torch.nn.Sequential(torch.nn.Embedding(V, d), torch.nn.Flatten(), torch.nn.Linear(nd, H),
                                 torch.nn.Tanh(), torch.nn.Linear(H, V))
    with torch.no_grad():
        for p, name in zip(layers.parameters(), ["E", "W", "b1", "U", "b2"]):
            p.copy_(params[name])
    return layers


# --- the reference ----------------------------------------------------------------------

@pytest.mark.parametrize("window", [1, 2, 5])
def test_make_windows_matches_a_python_loop(window):
    ids = torch.from_numpy(np.random.default_rng(window).integers(0, 9, size=17))
    contexts, targets = ref.make_windows(ids, window)
    pairs = [(ids[i - window:i].tolist(), int(ids[i])) for i in range(window, len(ids))]
    assert contexts.tolist() == [c for c, _ in pairs] and targets.tolist() == [t for _, t in pairs]
    assert contexts.dtype == targets.dtype == torch.long


def test_embed_is_one_hot_times_E_concatenated():
    rng = np.random.default_rng(0)
    V, d, n, N = 7, 3, 4, 5
    E = torch.from_numpy(rng.normal(size=(V, d)))
    contexts = torch.from_numpy(rng.integers(0, V, size=(N, n)))
    one_hot = F.one_hot(contexts, V).double()                          # (N, n, V)
    expected = torch.cat([one_hot[:, j] @ E for j in range(n)], dim=1)  # [x_1 E; ...; x_n E]
    torch.testing.assert_close(ref.embed(contexts, E), expected)
    torch.testing.assert_close(ref.embed(contexts, E), torch.nn.Embedding.from_pretrained(E)(contexts).flatten(1))


@pytest.mark.parametrize("seed", probes.SEEDS)
def test_forward_matches_torch_nn_layers(seed):
    params, contexts = probes.random_params(seed)
    with torch.no_grad():
        torch.testing.assert_close(ref.window_lm_forward(contexts, params), torch_layers(params)(contexts))


def test_forward_gradients_match_finite_differences():
    """torch.autograd.gradcheck: central differences against autograd, in float64, for every parameter."""
    params, contexts = probes.random_params(5)
    names = list(params)
    tensors = [params[k].detach().double().requires_grad_() for k in names]
    targets = torch.arange(len(contexts)) % params["U"].shape[0]

    def loss(*values):
        return F.cross_entropy(ref.window_lm_forward(contexts, dict(zip(names, values))), targets)

    assert torch.autograd.gradcheck(loss, tensors, eps=1e-6, atol=1e-6)


def test_perplexity_is_the_geometric_mean_of_inverse_probabilities():
    rng = np.random.default_rng(1)
    logits, targets = torch.from_numpy(rng.normal(size=(6, 5))), torch.from_numpy(rng.integers(0, 5, size=6))
    p = torch.softmax(logits, dim=1)[torch.arange(6), targets].numpy()
    assert math.isclose(ref.perplexity(logits, targets).item(), np.prod(1 / p) ** (1 / 6), rel_tol=1e-10)
    assert math.isclose(ref.perplexity(torch.zeros(3, 9), torch.tensor([0, 4, 8])).item(), 9.0)


def test_train_equals_the_standard_torch_loop():
    g = torch.Generator().manual_seed(0)
    contexts, targets = torch.randint(0, 6, (50, 3), generator=g), torch.randint(0, 6, (50,), generator=g)
    params = ref.init_params(6, 4, 3, 5, seed=1)
    layers = torch_layers(params)
    opt = torch.optim.Adam(layers.parameters(), lr=0.05)
    expected = []
    for _ in range(20):
        ce = F.cross_entropy(layers(contexts), targets)
        opt.zero_grad()
        ce.backward()
        opt.step()
        expected.append(ce.item())
    got = ref.train(params, contexts, targets, 20, 0.05)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert all(isinstance(x, float) for x in got)
    with torch.no_grad():  # the parameters were updated in place, to the same values
        torch.testing.assert_close(ref.window_lm_forward(contexts, params), layers(contexts), atol=1e-5, rtol=1e-5)


def test_n_params_matches_torch_for_every_window():
    for n in (1, 3, 8, 20):
        params = ref.init_params(30, 5, n, 16)
        assert ref.n_params(30, 5, n, 16) == sum(p.numel() for p in params.values()) == \
            sum(p.numel() for p in torch_layers(params).parameters())
    # linear in n: each extra position adds one d x H block of W
    assert ref.n_params(30, 5, 9, 16) - ref.n_params(30, 5, 8, 16) == 5 * 16


def test_markov_task_windows_are_the_reference_windows_of_one_sample():
    task = probes.TRAIN_TASK
    _, ids = probes.markov_text(**task)
    contexts, targets = ref.make_windows(ids, task["window"])
    (train_c, train_t), (held_c, held_t), _ = hidden.markov_task(task)
    assert torch.equal(train_c, contexts[:task["n_train"]]) and torch.equal(train_t, targets[:task["n_train"]])
    assert torch.equal(held_c, contexts[task["n_train"]:]) and torch.equal(held_t, targets[task["n_train"]:])
    assert len(train_t) == task["n_train"] and len(held_t) == task["n_held_out"]


def test_markov_task_knows_its_answer_and_the_reference_reaches_it():
    task = probes.TRAIN_TASK
    (contexts, targets), (held_c, held_t), best = hidden.markov_task(task)
    source = datasets.Markov2Source("abcd", 0.5, task["seed"])
    assert abs(math.log2(best) - source.entropy_rate()) < 0.1  # the held-out sample is typical
    params = ref.init_params(4, task["d"], task["window"], task["H"], seed=task["seed"])
    ref.train(params, contexts, targets, task["steps"], task["lr"])
    with torch.no_grad():
        ppl = ref.perplexity(ref.window_lm_forward(held_c, params), held_t).item()
    assert best <= ppl < best * (1 + hidden.TRAIN_TOLERANCE / 2)  # well inside the tolerance


# --- the notebook's data and helpers ------------------------------------------------------

@pytest.fixture(scope="module", name="setup_namespace")
def source_setup_namespace():
    """The source notebook's setup cell, executed."""
    return setup_namespace(SOLUTIONS, A)


def test_notebook_text_is_the_course_text(setup_namespace):
    assert setup_namespace["TEXT"] == datasets.python_docs_text()
    assert setup_namespace["TRAIN_TEXT"] + setup_namespace["HELD_OUT_TEXT"] == datasets.python_docs_text()[:20_000]


def test_notebook_init_params_is_the_reference(setup_namespace):
    a, b = setup_namespace["init_params"](9, 3, 4, 7, seed=2), ref.init_params(9, 3, 4, 7, seed=2)
    assert list(a) == list(b)
    for k in a:
        torch.testing.assert_close(a[k], b[k])
        assert a[k].requires_grad and a[k].is_leaf


def test_notebook_encode_uses_the_unknown_symbol(setup_namespace):
    encode, VOCAB = setup_namespace["encode"], setup_namespace["VOCAB"]
    ids = encode("def f():\u2603")
    assert ids.dtype == torch.long and ids[-1] == 0 and VOCAB[0] == "<unk>"
    assert "".join(VOCAB[i] for i in ids[:-1]) == "def f():"


@pytest.fixture(scope="module")
def check_close(setup_namespace):
    return setup_namespace["check_close"]


def test_check_close_handles_tensors_that_require_grad(check_close, capsys):
    check_close("x", torch.ones(2, requires_grad=True) * 2, [2.0, 2.0])
    assert "ok: x" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="first at window 1, symbol 0: expected 3, got 2"):
        check_close("y", torch.full((2, 2), 2.0), [[2.0, 2.0], [3.0, 2.0]], ("window", "symbol"))


# --- the hidden tests: pass on the reference, name each catalogued mistake -----------------

def test_hidden_tests_pass_on_the_reference(check_close, capsys):
    namespace, (checkers, calls) = {}, counted(check_close=check_close)
    for part in ("make_windows", "embed", "window_lm_forward", "perplexity", "train"):
        before = len(calls)
        check_part(A, part, getattr(ref, part), namespace, **checkers)
        assert len(calls) > before, part
    assert capsys.readouterr().out.count("ok:") == len(calls)  # every check the judges made passed
    assert namespace["window_lm_forward"] is ref.window_lm_forward


def _windows_variant(fn_contexts, fn_targets):
    return lambda ids, window: (fn_contexts(ids, window), fn_targets(ids, window))


@pytest.mark.parametrize("student,says", [
    (_windows_variant(lambda ids, w: ids.unfold(0, w, 1)[:-1], lambda ids, w: ids[w - 1:-1]),
     "a target inside its own context"),
    (_windows_variant(lambda ids, w: ids.unfold(0, w, 1)[1:], lambda ids, w: ids[w:]), "contexts shifted by one"),
    (_windows_variant(lambda ids, w: ids.unfold(0, w, 1)[:-1].flip(1), lambda ids, w: ids[w:]), "reversed order"),
    (_windows_variant(lambda ids, w: ids.unfold(0, w, 1)[:-1], lambda ids, w: ids[:-w]), "from the start of each"),
    (_windows_variant(lambda ids, w: ids.unfold(0, w, 1), lambda ids, w: ids[w - 1:]), "one window too many"),
    (_windows_variant(lambda ids, w: ids.unfold(0, w, 1)[:-2], lambda ids, w: ids[w + 1:]), "one window too few"),
    (lambda ids, w: (ids.unfold(0, w, 1)[:-1].float(), ids[w:]), "expected torch.long"),
    (lambda ids, w: (ids.unfold(0, w, 1)[:-1].numpy(), ids[w:]), "expected a torch tensor"),
    (lambda ids, w: ids.unfold(0, w, 1)[:-1], "expected a pair"),
])
def test_hidden_make_windows_names_each_mistake(check_close, student, says):
    with pytest.raises(AssertionError, match=says):
        check_part(A, "make_windows", student, check_close=check_close)


def _embed_mistake(name):
    return lambda contexts, E: hidden.embed_mistakes(contexts, E)[name]


@pytest.mark.parametrize("name", sorted(hidden.embed_mistakes(torch.zeros(2, 3, dtype=torch.long), torch.eye(4))))
def test_hidden_embed_names_each_mistake(check_close, name):
    with pytest.raises(AssertionError, match="your result matches " + re.escape(name[:25])):
        check_part(A, "embed", _embed_mistake(name), check_close=check_close)


def test_hidden_embed_wants_a_differentiable_lookup(check_close):
    detached = lambda contexts, E: torch.from_numpy(E.detach().numpy()[contexts.numpy()].reshape(len(contexts), -1))  # noqa: E731
    with pytest.raises(AssertionError, match="not connected to E"):
        check_part(A, "embed", detached, check_close=check_close)
    fresh_leaf = lambda contexts, E: ref.embed(contexts, E).detach().clone().requires_grad_()  # noqa: E731
    with pytest.raises(AssertionError, match="not connected to E"):  # requires grad, but not through E
        check_part(A, "embed", fresh_leaf, check_close=check_close)
    one_hot = lambda contexts, E: (F.one_hot(contexts, E.shape[0]).to(E.dtype) @ E).flatten(1)  # noqa: E731
    check_part(A, "embed", one_hot, check_close=check_close)  # the one-hot product is a right answer
    scaled = lambda contexts, E: ref.embed(contexts, E * 1.0) + 0 * E.sum()  # noqa: E731
    check_part(A, "embed", scaled, check_close=check_close)  # still E's gradient, row by row


def test_hidden_embed_compares_the_gradient_that_reaches_E(check_close):
    """Connected to E, right values, wrong gradient: rows of a detached copy of E plus a term that touches E."""
    def student(contexts, E):
        return ref.embed(contexts, E.detach()) + 0.5 * (E - E.detach())[contexts].reshape(len(contexts), -1)
    with pytest.raises(AssertionError, match="the gradient that reaches E"):
        check_part(A, "embed", student, check_close=check_close)


@pytest.mark.parametrize("name", sorted(hidden.forward_mistakes(*probes.random_params(0)[::-1])))
def test_hidden_forward_names_each_mistake(check_close, name):
    def student(contexts, params):
        return hidden.forward_mistakes(contexts, params)[name]
    with pytest.raises(AssertionError, match="your result matches " + re.escape(name[:25])):
        check_part(A, "window_lm_forward", student, check_close=check_close)


@pytest.mark.parametrize("name", sorted(hidden.perplexity_mistakes(torch.zeros(2, 3), torch.tensor([0, 1]))))
def test_hidden_perplexity_names_each_mistake(check_close, name):
    def student(logits, targets):
        return hidden.perplexity_mistakes(logits, targets)[name]
    with pytest.raises(AssertionError, match="your result matches " + re.escape(name[:20])):
        check_part(A, "perplexity", student, check_close=check_close)


def test_every_known_mistake_changes_the_output():
    """A 'mistake' equal to the right answer would make its diagnosis meaningless."""
    for seed in probes.SEEDS:
        params, contexts = probes.random_params(seed)
        with torch.no_grad():
            right = ref.window_lm_forward(contexts, params)
            for name, wrong in hidden.forward_mistakes(contexts, params).items():
                assert wrong.shape != right.shape or not torch.allclose(wrong, right), name
        E = params["E"].detach()
        for name, wrong in hidden.embed_mistakes(contexts, E).items():
            right = ref.embed(contexts, E)
            assert wrong.shape != right.shape or not torch.allclose(wrong, right), name


@pytest.mark.parametrize("mistake", sorted(hidden.TRAIN_MISTAKES))
def test_hidden_train_names_each_mistake(check_close, mistake):
    kw = hidden.TRAIN_MISTAKES[mistake]

    def student(params, contexts, targets, steps, lr):
        return hidden._train_variant(params, contexts, targets, steps, lr, **kw)
    with pytest.raises(AssertionError, match="your loss curve matches " + re.escape(mistake[:25])):
        check_part(A, "train", student, check_close=check_close)


@pytest.mark.parametrize("student,says", [
    (lambda params, c, t, steps, lr: None, "expected a list"),
    (lambda params, c, t, steps, lr: hidden._train_variant(params, c, t, steps - 1, lr), "expected one per step"),
    (lambda params, c, t, steps, lr: [1.0] * steps, "did not change"),
    (lambda params, c, t, steps, lr: [x * len(t) for x in ref.train(params, c, t, steps, lr)], "summed loss"),
    (lambda params, c, t, steps, lr: ref.train(params, c, t, steps + 1, lr)[1:], "losses\\[0\\]"),
    (lambda params, c, t, steps, lr: ref.train(params, c, t, 5, lr) + [0.0] * (steps - 5), "the exercise's loop"),
    (lambda params, c, t, steps, lr: ref.train({k: v.detach().clone().requires_grad_() for k, v in params.items()},
                                               c, t, steps, lr), "did not change"),
    (lambda params, c, t, steps, lr: (ref.train(params, c, t, steps, lr), params.pop("b2"))[0],
     "must still hold the tensors"),
    (lambda params, c, t, steps, lr: (x for x in [1.0] * steps), "did not change"),
])
def test_hidden_train_catches_other_mistakes(check_close, student, says):
    with pytest.raises(AssertionError, match=says):
        check_part(A, "train", student, check_close=check_close)


def _train_with(optimizer, steps=None, after=None):
    """A loop like the exercise's with another optimizer, number of steps or losses after the first (issue 18)."""
    def student(params, contexts, targets, n, lr):
        opt = optimizer(params.values(), lr)
        losses = []
        for _ in range(steps or n):
            loss = F.cross_entropy(ref.window_lm_forward(contexts, params), targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        losses += [0.0] * (n - len(losses))
        return losses if after is None else losses[:1] + [after] * (n - 1)
    return student


ADAM = lambda ps, lr: torch.optim.Adam(ps, lr=lr)  # noqa: E731


@pytest.mark.parametrize("student", [
    _train_with(lambda ps, lr: torch.optim.RMSprop(ps, lr=lr)),
    _train_with(lambda ps, lr: torch.optim.Adam(ps, lr=0.6 * lr)),
    _train_with(lambda ps, lr: torch.optim.AdamW(ps, lr=lr)),
    _train_with(ADAM, steps=120),  # fewer steps, padded with zeros
    _train_with(ADAM, after=1.0),  # the right training, junk losses after the first
], ids=["rmsprop", "adam_other_lr", "adamw", "fewer_steps_padded", "junk_losses"])
def test_hidden_train_wants_the_exercise_loop(check_close, student):
    """Each of these reaches a held-out perplexity close to the true model's: only the reference loop tells them apart."""
    with pytest.raises(AssertionError, match="against the exercise's loop from the same start"):
        check_part(A, "train", student, check_close=check_close)


def test_hidden_train_accepts_an_equivalent_loop(check_close):
    """The same loop written differently (log_softmax + gather, a list of parameters) passes."""
    def student(params, contexts, targets, steps, lr):
        opt, losses = torch.optim.Adam(list(params.values()), lr=lr), []
        for _ in range(steps):
            opt.zero_grad(set_to_none=False)
            log_p = torch.log_softmax(ref.window_lm_forward(contexts, params), dim=1)
            loss = -log_p.gather(1, targets[:, None]).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses
    check_part(A, "train", student, check_close=check_close)


def test_a_train_that_yields_its_losses_is_read_like_a_list(check_close):
    """As before the split: a generator of losses is consumed (training as it goes) before params are looked at."""
    def student(params, contexts, targets, steps, lr):
        yield from ref.train(params, contexts, targets, steps, lr)
    check_part(A, "train", student, check_close=check_close)


@pytest.mark.parametrize("part,got", [
    ("make_windows", []), ("embed", [{"embedding": None}] * 3), ("window_lm_forward", [None]),
    ("perplexity", None), ("train", {"losses": [1.0]}),
])
def test_judges_refuse_results_the_probe_cannot_have_sent(check_close, part, got):
    with pytest.raises(AssertionError, match="did not receive"):
        getattr(hidden, f"judge_{part}")(got, check_close)


def test_later_parts_are_graded_on_reference_earlier_parts(check_close):
    """A wrong embed must not cost points again in window_lm_forward, perplexity or train."""
    namespace = {"embed": _embed_mistake("the window in reverse order (newest symbol first); concatenate "
                                         "e_1 (oldest) first")}

    def student_forward(contexts, params):  # calls whatever embed is in its namespace
        e = namespace["embed"](contexts, params["E"])
        return torch.tanh(e @ params["W"].T + params["b1"]) @ params["U"].T + params["b2"]

    check_part(A, "window_lm_forward", student_forward, namespace, check_close=check_close)
    assert namespace["embed"] is ref.embed
    check_part(A, "train", ref.train, namespace, check_close=check_close)
    assert namespace["perplexity"] is ref.perplexity and namespace["make_windows"] is ref.make_windows


def test_a_squeezed_embedding_fails_only_on_the_single_window_batch(check_close):
    """The boundary case (N = 1) is among the probe's; squeeze is right everywhere else."""
    def squeezed(contexts, E):
        return ref.embed(contexts, E).squeeze()
    for seed in probes.SEEDS:
        contexts, E = probes.embed_case(seed)
        assert (squeezed(contexts, E).shape == ref.embed(contexts, E).shape) == (seed != probes.BOUNDARY_SEED)
    with pytest.raises(AssertionError, match="got shape"):
        check_part(A, "embed", squeezed, check_close=check_close)
