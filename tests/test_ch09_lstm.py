"""The chapter 9 reference against torch.nn.LSTM, and the hidden tests against the reference and each named mistake."""
import re

import numpy as np
import pytest
import torch

from grader.course import SOLUTIONS
from grader.hidden_tests import ch09_lstm as hidden
from grader.hidden_tests import check_part
from grader.probes import ch09_lstm as probes
from grader.reference import ch09_lstm as ref
from submission_bank import setup_namespace
from torch_layers import torch_layer

A = "ch09_lstm"
PARTS = ("lstm_step", "lstm_forward", "init_forget_bias", "lstm_parameter_count")


# --- the reference against torch ---

@pytest.mark.parametrize("seed", [*probes.SEEDS, 0, 1])
@pytest.mark.parametrize("initial", [True, False])
def test_lstm_forward_matches_torch(seed, initial):
    X, h0, c0, *weights = probes.forward_args(seed, initial)
    state = None if h0 is None else (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None])
    out, (h_n, c_n) = torch_layer(torch.nn.LSTM, *weights)(torch.from_numpy(X), state)
    H, C = ref.lstm_forward(X, h0, c0, *weights)
    np.testing.assert_allclose(H, out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H[:, -1], h_n[0].detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(C[:, -1], c_n[0].detach().numpy(), rtol=1e-10, atol=1e-12)


def test_probe_sizes_cover_the_edge_cases():
    shapes = [probes.random_case(seed)["X"].shape for seed in probes.SEEDS]
    assert any(B == 1 for B, _, _ in shapes) and any(T == 1 for _, T, _ in shapes)
    assert all(probes.random_case(s)["X"].shape[2] != probes.random_case(s)["h0"].shape[1] for s in probes.SEEDS)


def test_lstm_step_matches_torch_lstm_cell():
    x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh = probes.step_args(probes.SEEDS[0])
    cell = torch.nn.LSTMCell(W_ih.shape[1], W_hh.shape[1]).double()
    with torch.no_grad():
        for p, v in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), (W_ih, W_hh, b_ih, b_hh)):
            p.copy_(torch.from_numpy(v))
        h_t, c_t = cell(torch.from_numpy(x_t), (torch.from_numpy(h_prev), torch.from_numpy(c_prev)))
    got = ref.lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh)
    np.testing.assert_allclose(got[0], h_t.numpy(), rtol=1e-10)
    np.testing.assert_allclose(got[1], c_t.numpy(), rtol=1e-10)


def test_sigmoid_is_stable_and_exact():
    a = np.array([-800.0, -3.0, 0.0, 2.5, 800.0])
    with np.errstate(all="raise"):
        s = ref.sigmoid(a)
    np.testing.assert_allclose(s, torch.sigmoid(torch.from_numpy(a)).numpy(), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("value", [0.0, 1.0, 3.0])
def test_init_forget_bias_sets_torchs_forget_gate(value):
    lstm = torch.nn.LSTM(3, 5).double()
    b_ih, b_hh = lstm.bias_ih_l0.detach().numpy().copy(), lstm.bias_hh_l0.detach().numpy().copy()
    before = (b_ih.copy(), b_hh.copy())
    new_ih, new_hh = ref.init_forget_bias(b_ih, b_hh, value)
    np.testing.assert_array_equal(b_ih, before[0])
    np.testing.assert_array_equal(b_hh, before[1])
    with torch.no_grad():
        lstm.bias_ih_l0.copy_(torch.from_numpy(new_ih))
        lstm.bias_hh_l0.copy_(torch.from_numpy(new_hh))
        X = torch.zeros(1, 1, 3, dtype=torch.float64)
        c0 = torch.ones(1, 1, 5, dtype=torch.float64)
        lstm.weight_hh_l0.zero_()
        # with zero inputs and zero h0, c_1 = sigmoid(b_f) * c0 + i * g: read sigmoid(b_f) off with g's bias at 0
        lstm.bias_ih_l0[10:15] = 0.0
        lstm.bias_hh_l0[10:15] = 0.0
        c1 = lstm(X, (torch.zeros(1, 1, 5, dtype=torch.float64), c0))[1][1]
    np.testing.assert_allclose(c1.numpy().ravel(), np.full(5, 1 / (1 + np.exp(-value))), rtol=1e-12)


@pytest.mark.parametrize("D, H", [(1, 1), *probes.COUNT_SIZES])
def test_parameter_count_matches_torch(D, H):
    assert ref.lstm_parameter_count(D, H) == sum(p.numel() for p in torch.nn.LSTM(D, H).parameters())


# --- the hidden tests: pass on the reference, fail on each named mistake with its name ---

@pytest.fixture(scope="module")
def check_close():
    return setup_namespace(SOLUTIONS, A)["check_close"]


def test_hidden_tests_pass_on_the_reference(check_close, capsys):
    for part in PARTS:
        check_part(A, part, getattr(ref, part), check_close=check_close)
    assert capsys.readouterr().out.count("ok:") >= 2 * len(probes.SEEDS) * 3


@pytest.mark.parametrize("mistake", sorted(hidden.STEP_MISTAKES))
def test_hidden_step_test_names_each_mistake(check_close, mistake):
    with pytest.raises(AssertionError, match=re.escape("your result matches " + mistake[:25])):
        check_part(A, "lstm_step", hidden.STEP_MISTAKES[mistake], check_close=check_close)


@pytest.mark.parametrize("mistake", sorted(hidden.STEP_MISTAKES))
def test_hidden_forward_test_names_each_step_mistake(check_close, mistake):
    """A forward pass built on a wrong step, as a student would write without calling lstm_step."""
    def forward(X, h0, c0, *weights):
        B, n = X.shape[0], weights[1].shape[1]
        h, c = (np.zeros((B, n)) if h0 is None else h0), (np.zeros((B, n)) if c0 is None else c0)
        return hidden._forward_with(hidden.STEP_MISTAKES[mistake], X, h, c, *weights)
    with pytest.raises(AssertionError, match=re.escape("your result matches " + mistake[:25])):
        check_part(A, "lstm_forward", forward, check_close=check_close)


def test_every_known_mistake_changes_the_output():
    for seed in probes.SEEDS:
        args = probes.forward_args(seed)
        right = np.stack(ref.lstm_forward(*args))
        names = list(hidden.forward_mistakes(*args))
        for name, wrong in hidden.forward_mistakes(*args).items():
            if args[0].shape[1] == 1 and ("off by one" in name or "reset to c0" in name):
                continue  # one step: a state stored before or after, or reset to c0, can coincide
            assert not np.allclose(wrong, right), (seed, name)
        assert len(names) == len(set(names))
        step = probes.step_args(seed)
        for name, mistake in hidden.STEP_MISTAKES.items():
            assert not np.allclose(np.stack(mistake(*step)), np.stack(ref.lstm_step(*step))), (seed, name)


def test_forward_mistakes_are_named(check_close):
    def off_by_one(X, h0, c0, *weights):
        H, C = ref.lstm_forward(X, h0, c0, *weights)
        h0 = np.zeros_like(H[:, 0]) if h0 is None else h0
        c0 = np.zeros_like(C[:, 0]) if c0 is None else c0
        return (np.concatenate([h0[:, None], H[:, :-1]], axis=1), np.concatenate([c0[:, None], C[:, :-1]], axis=1))
    with pytest.raises(AssertionError, match="off by one in time"):
        check_part(A, "lstm_forward", off_by_one, check_close=check_close)
    with pytest.raises(AssertionError, match="ignores c0"):
        check_part(A, "lstm_forward", lambda X, h0, c0, *w: ref.lstm_forward(X, h0, None, *w), check_close=check_close)
    with pytest.raises(AssertionError, match="expected a pair"):
        check_part(A, "lstm_forward", lambda *args: ref.lstm_forward(*args)[0], check_close=check_close)


def _bias_with(change):
    def init(b_ih, b_hh, value):
        b_ih, b_hh = np.array(b_ih, dtype=float), np.array(b_hh, dtype=float)
        n = len(b_ih) // 4
        change(b_ih, b_hh, value, n)
        return b_ih, b_hh
    return init


@pytest.mark.parametrize("change, says", [
    (lambda i, h, v, n: (i.__setitem__(slice(0, n), v), h.__setitem__(slice(0, n), 0)), "input-gate block"),
    (lambda i, h, v, n: (i.__setitem__(slice(n, 2 * n), v), h.__setitem__(slice(n, 2 * n), v)), "both biases"),
    (lambda i, h, v, n: i.__setitem__(slice(n, 2 * n), v), "b_hh's forget block left"),
    (lambda i, h, v, n: (i.__setitem__(slice(None), v), h.__setitem__(slice(None), 0)), "every entry"),
])
def test_hidden_forget_bias_test_names_each_mistake(check_close, change, says):
    with pytest.raises(AssertionError, match=says):
        check_part(A, "init_forget_bias", _bias_with(change), check_close=check_close)


def test_forget_bias_in_place_is_caught(check_close):
    def in_place(b_ih, b_hh, value):
        n = len(b_ih) // 4
        b_ih[n:2 * n], b_hh[n:2 * n] = value, 0.0
    with pytest.raises(AssertionError, match="changed the arrays in place but returned nothing"):
        check_part(A, "init_forget_bias", in_place, check_close=check_close)

    def in_place_returned(b_ih, b_hh, value):
        in_place(b_ih, b_hh, value)
        return b_ih, b_hh
    with pytest.raises(AssertionError, match="passed in is left unchanged"):
        check_part(A, "init_forget_bias", in_place_returned, check_close=check_close)


@pytest.mark.parametrize("count, says", [
    (lambda D, H: 4 * H * (D + H + 1), "one bias vector per gate"),
    (lambda D, H: H * (D + H + 2), "one gate only"),
    (lambda D, H: 4 * H * (D + H), "no biases"),
])
def test_hidden_count_test_names_each_mistake(check_close, count, says):
    with pytest.raises(AssertionError, match=says):
        check_part(A, "lstm_parameter_count", count, check_close=check_close)


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("forged", [[], None, {}, "ok", [0.0]])
def test_judges_refuse_a_forged_report(check_close, part, forged):
    with pytest.raises(AssertionError, match="did not receive"):
        getattr(hidden, f"judge_{part}")(forged, check_close)


def test_later_parts_are_graded_on_reference_earlier_parts(check_close):
    namespace = {"lstm_step": hidden.STEP_MISTAKES["a forgotten forget gate (c_t = c_prev + i_t * g_t)"]}

    def student_forward(X, h0, c0, *weights):  # calls whatever lstm_step is in its namespace
        B, n = X.shape[0], weights[1].shape[1]
        h, c = (np.zeros((B, n)) if h0 is None else h0), (np.zeros((B, n)) if c0 is None else c0)
        return hidden._forward_with(namespace["lstm_step"], X, h, c, *weights)

    check_part(A, "lstm_forward", student_forward, namespace, check_close=check_close)
    assert namespace["lstm_step"] is ref.lstm_step
