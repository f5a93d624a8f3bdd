"""The chapter 10 reference against torch.nn.GRU, and the hidden tests against the reference and each named mistake."""
import re

import numpy as np
import pytest
import torch

from grader.course import SOLUTIONS
from grader.hidden_tests import ch10_gru as hidden
from grader.hidden_tests import check_part
from grader.probes import ch10_gru as probes
from grader.reference import ch10_gru as ref
from submission_bank import setup_namespace
from torch_layers import torch_layer

A = "ch10_gru"
PARTS = ("gru_step", "gru_forward", "anbn_example", "accepts", "parameter_counts")


# --- the reference against torch ---

@pytest.mark.parametrize("seed", [*probes.SEEDS, 0, 1])
@pytest.mark.parametrize("initial", [True, False])
def test_gru_forward_matches_torch(seed, initial):
    X, h0, *weights = probes.forward_args(seed, initial)
    out, h_n = torch_layer(torch.nn.GRU, *weights)(torch.from_numpy(X), None if h0 is None else torch.from_numpy(h0)[None])
    H = ref.gru_forward(X, h0, *weights)
    np.testing.assert_allclose(H, out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H[:, -1], h_n[0].detach().numpy(), rtol=1e-10, atol=1e-12)


def test_gru_step_matches_torch_gru_cell():
    x_t, h_prev, W_ih, W_hh, b_ih, b_hh = probes.step_args(probes.SEEDS[0])
    cell = torch.nn.GRUCell(W_ih.shape[1], W_hh.shape[1]).double()
    with torch.no_grad():
        for p, v in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), (W_ih, W_hh, b_ih, b_hh)):
            p.copy_(torch.from_numpy(v))
        h_t = cell(torch.from_numpy(x_t), torch.from_numpy(h_prev))
    np.testing.assert_allclose(ref.gru_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh), h_t.numpy(), rtol=1e-10)


def test_probe_sizes_cover_the_edge_cases():
    shapes = [probes.random_case(seed)["X"].shape for seed in probes.SEEDS]
    assert any(B == 1 for B, _, _ in shapes) and any(T == 1 for _, T, _ in shapes)
    assert all(probes.random_case(s)["X"].shape[2] != probes.random_case(s)["h0"].shape[1] for s in probes.SEEDS)


@pytest.mark.parametrize("D, H", [(1, 1), *probes.COUNT_SIZES])
def test_parameter_counts_match_torch(D, H):
    layers = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}
    assert ref.parameter_counts(D, H) == {k: sum(p.numel() for p in cls(D, H).parameters()) for k, cls in layers.items()}


@pytest.mark.parametrize("n", [1, 2, 7])
def test_anbn_example_is_the_string_and_its_complete_prefixes(n):
    X, y = ref.anbn_example(n)
    string = "".join("ab"[int(row.argmax())] for row in X)
    assert string == "a" * n + "b" * n and np.all(X.sum(axis=1) == 1)
    complete = [float(string[:t + 1] in {"a" * k + "b" * k for k in range(1, n + 1)}) for t in range(2 * n)]
    np.testing.assert_array_equal(y, complete)


@pytest.mark.parametrize("bad", [0, -3, 2.0, True, "3", None])
def test_anbn_example_refuses_a_bad_n(bad):
    with pytest.raises(ValueError, match="anbn_example: n must be a positive integer"):
        ref.anbn_example(bad)


def test_accepts_needs_every_step_and_counts_one_half_as_complete():
    right = np.array([0.1, 0.2, 0.3, 0.9])
    assert ref.accepts(right, 2) is True
    for t in range(4):
        wrong = right.copy()
        wrong[t] = 1 - wrong[t]
        assert ref.accepts(wrong, 2) is False
    assert ref.accepts(np.array([0.1, 0.2, 0.3, 0.5]), 2) is True
    with pytest.raises(ValueError, match="expected 4 probabilities"):
        ref.accepts(right[:3], 2)


def test_accepts_cases_separate_every_named_mistake():
    cases = probes.accepts_cases()
    right = [ref.accepts(p, n) for n, p in cases]
    assert any(right) and not all(right)
    for name, mistake in hidden.ACCEPTS_MISTAKES.items():
        assert [mistake(p, n) for n, p in cases] != right, name


# --- the hidden tests: pass on the reference, fail on each named mistake with its name ---

@pytest.fixture(scope="module")
def check_close():
    return setup_namespace(SOLUTIONS, A)["check_close"]


def test_hidden_tests_pass_on_the_reference(check_close, capsys):
    for part in PARTS:
        check_part(A, part, getattr(ref, part), check_close=check_close)
    assert capsys.readouterr().out.count("ok:") >= 2 * len(probes.SEEDS)


@pytest.mark.parametrize("mistake", sorted(hidden.STEP_MISTAKES))
def test_hidden_step_test_names_each_mistake(check_close, mistake):
    with pytest.raises(AssertionError, match=re.escape("your result matches " + mistake[:25])):
        check_part(A, "gru_step", hidden.STEP_MISTAKES[mistake], check_close=check_close)


@pytest.mark.parametrize("mistake", sorted(hidden.STEP_MISTAKES))
def test_hidden_forward_test_names_each_step_mistake(check_close, mistake):
    """A forward pass built on a wrong step, as a student would write without calling gru_step."""
    def forward(X, h0, *weights):
        h = np.zeros((X.shape[0], weights[1].shape[1])) if h0 is None else h0
        return hidden._forward_with(hidden.STEP_MISTAKES[mistake], X, h, *weights)
    with pytest.raises(AssertionError, match=re.escape("your result matches " + mistake[:25])):
        check_part(A, "gru_forward", forward, check_close=check_close)


def test_every_known_mistake_changes_the_output():
    for seed in probes.SEEDS:
        args = probes.forward_args(seed)
        right = ref.gru_forward(*args)
        for name, wrong in hidden.forward_mistakes(*args).items():
            if args[0].shape[1] == 1 and ("off by one" in name or "reset to h0" in name):
                continue  # one step: a state stored before or after, or reset to h0, can coincide
            assert not np.allclose(wrong, right), (seed, name)
        step = probes.step_args(seed)
        for name, mistake in hidden.STEP_MISTAKES.items():
            assert not np.allclose(mistake(*step), ref.gru_step(*step)), (seed, name)


def test_forward_mistakes_are_named(check_close):
    def off_by_one(X, h0, *weights):
        H = ref.gru_forward(X, h0, *weights)
        h0 = np.zeros_like(H[:, 0]) if h0 is None else h0
        return np.concatenate([h0[:, None], H[:, :-1]], axis=1)
    with pytest.raises(AssertionError, match="off by one in time"):
        check_part(A, "gru_forward", off_by_one, check_close=check_close)
    with pytest.raises(AssertionError, match="ignores h0"):
        check_part(A, "gru_forward", lambda X, h0, *w: ref.gru_forward(X, None, *w), check_close=check_close)
    with pytest.raises(AssertionError, match="no cell state"):
        check_part(A, "gru_forward", lambda *args: (ref.gru_forward(*args), None), check_close=check_close)


def _anbn_with(change):
    def anbn_example(n):
        X, y = ref.anbn_example(n)
        return change(X.copy(), y.copy(), n)
    return anbn_example


@pytest.mark.parametrize("change, says", [
    (lambda X, y, n: (X, np.r_[np.zeros(n), np.ones(n)]), "a target of 1 after every b"),
    (lambda X, y, n: (X, np.eye(2 * n)[n]), "at the first b"),
    (lambda X, y, n: (X[:, ::-1], y), "columns swapped"),
    (lambda X, y, n: (X, np.zeros(2 * n)), "no target of 1"),
    (lambda X, y, n: (X.T, y), "got X of shape (2, 4)"),
])
def test_hidden_anbn_test_names_each_mistake(check_close, change, says):
    with pytest.raises(AssertionError, match=re.escape(says)):
        check_part(A, "anbn_example", _anbn_with(change), check_close=check_close)


@pytest.mark.parametrize("mistake", sorted(hidden.ACCEPTS_MISTAKES))
def test_hidden_accepts_test_names_each_mistake(check_close, mistake):
    with pytest.raises(AssertionError, match=re.escape("your result matches " + mistake[:25])):
        check_part(A, "accepts", hidden.ACCEPTS_MISTAKES[mistake], check_close=check_close)


def test_accepts_must_return_a_bool(check_close):
    with pytest.raises(AssertionError, match="expected True or False"):
        check_part(A, "accepts", lambda p, n: float(ref.accepts(p, n)), check_close=check_close)


@pytest.mark.parametrize("count, says", [
    (lambda D, H: {"rnn": H * (D + H + 1), "gru": 3 * H * (D + H + 1), "lstm": 4 * H * (D + H + 1)},
     "one bias vector per block"),
    (lambda D, H: {**ref.parameter_counts(D, H), "gru": 2 * H * (D + H + 2)}, "two blocks for the GRU"),
    (lambda D, H: {**ref.parameter_counts(D, H), "lstm": 3 * H * (D + H + 2)}, "three blocks for the LSTM"),
    (lambda D, H: {**ref.parameter_counts(D, H), "gru": float(3 * H * (D + H + 2))}, "expected integers"),
    (lambda D, H: [H * (D + H + 2)] * 3, "expected a dict"),
])
def test_hidden_count_test_names_each_mistake(check_close, count, says):
    with pytest.raises(AssertionError, match=says):
        check_part(A, "parameter_counts", count, check_close=check_close)


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("forged", [[], None, {}, "ok", [0.0]])
def test_judges_refuse_a_forged_report(check_close, part, forged):
    with pytest.raises(AssertionError, match="did not receive"):
        getattr(hidden, f"judge_{part}")(forged, check_close)


def test_later_parts_are_graded_on_reference_earlier_parts(check_close):
    namespace = {"gru_step": hidden.STEP_MISTAKES["a missing reset gate (n_t = tanh(W_in x_t + b_in + W_hn h_prev + b_hn))"]}

    def student_forward(X, h0, *weights):  # calls whatever gru_step is in its namespace
        h = np.zeros((X.shape[0], weights[1].shape[1])) if h0 is None else h0
        return hidden._forward_with(namespace["gru_step"], X, h, *weights)

    check_part(A, "gru_forward", student_forward, namespace, check_close=check_close)
    assert namespace["gru_step"] is ref.gru_step


def test_accepts_is_graded_on_the_reference_anbn_example(check_close):
    def wrong_targets(n):
        X, y = ref.anbn_example(n)
        return X, y[::-1]  # the 1 at the first step
    namespace = {"anbn_example": wrong_targets}

    def student_accepts(p_complete, n):  # calls whatever anbn_example is in its namespace
        return bool(np.all((np.asarray(p_complete) >= 0.5) == (namespace["anbn_example"](n)[1] == 1)))

    check_part(A, "accepts", student_accepts, namespace, check_close=check_close)
    assert namespace["anbn_example"] is ref.anbn_example
