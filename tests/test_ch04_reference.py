"""The chapter 4 reference implementation against torch, and the hidden tests against the reference."""
import numpy as np
import pytest
import torch

from counting import counted
from grader.hidden_tests import ch04_recurrent_networks as hidden
from grader.hidden_tests import check_part, diagnose, use_reference_parts
from grader.probes import ch04_recurrent_networks as probes
from grader.reference import ch04_recurrent_networks as ref
from submission_bank import setup_namespace

from grader.course import SOLUTIONS

A = "ch04_recurrent_networks"


def torch_rnn(W_xh, W_hh, b_h):
    rnn = torch.nn.RNN(W_xh.shape[1], W_xh.shape[0], batch_first=True).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(W_xh))
        rnn.weight_hh_l0.copy_(torch.from_numpy(W_hh))
        rnn.bias_ih_l0.copy_(torch.from_numpy(b_h))
        rnn.bias_hh_l0.zero_()
    return rnn


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("with_h0", [True, False])
def test_rnn_forward_matches_torch(seed, with_h0):
    c = probes.random_case(seed)
    h0 = c["h0"] if with_h0 else None
    out, h_T = torch_rnn(c["W_xh"], c["W_hh"], c["b_h"])(
        torch.from_numpy(c["X"]), None if h0 is None else torch.from_numpy(h0)[None])
    H = ref.rnn_forward(c["X"], h0, c["W_xh"], c["W_hh"], c["b_h"])
    np.testing.assert_allclose(H, out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H[:, -1], h_T[0].detach().numpy(), rtol=1e-10, atol=1e-12)


def test_rnn_step_matches_torch_rnn_cell():
    """An oracle of its own (not rnn_forward, which calls rnn_step): torch.nn.RNNCell with the same weights."""
    c = probes.random_case(7)
    cell = torch.nn.RNNCell(c["W_xh"].shape[1], c["W_xh"].shape[0]).double()
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(c["W_xh"]))
        cell.weight_hh.copy_(torch.from_numpy(c["W_hh"]))
        cell.bias_ih.copy_(torch.from_numpy(c["b_h"]))
        cell.bias_hh.zero_()
        expected = cell(torch.from_numpy(c["X"][:, 0]), torch.from_numpy(c["h0"])).numpy()
    np.testing.assert_allclose(ref.rnn_step(c["X"][:, 0], c["h0"], c["W_xh"], c["W_hh"], c["b_h"]), expected,
                               rtol=1e-12, atol=1e-14)


def test_rnn_step_on_a_hand_case():
    """tanh(W_xh x + W_hh h + b) worked out by hand for one unit: tanh(2*1 + 0.5*(-2) + 0) = tanh(1)."""
    got = ref.rnn_step(np.array([[1.0]]), np.array([[-2.0]]), np.array([[2.0]]), np.array([[0.5]]), np.zeros(1))
    np.testing.assert_allclose(got, [[np.tanh(1.0)]])


def test_many_to_one_logits_match_torch_rnn_and_linear():
    c = probes.random_case(3)
    rnn = torch_rnn(c["W_xh"], c["W_hh"], c["b_h"])
    linear = torch.nn.Linear(*c["W_hy"].shape[::-1]).double()
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(c["W_hy"]))
        linear.bias.copy_(torch.from_numpy(c["b_y"]))
        expected = linear(rnn(torch.from_numpy(c["X"]), torch.from_numpy(c["h0"])[None])[0][:, -1]).numpy()
    got = ref.many_to_one_logits(c["X"], c["h0"], c["W_xh"], c["W_hh"], c["b_h"], c["W_hy"], c["b_y"])
    np.testing.assert_allclose(got, expected, rtol=1e-10)


@pytest.mark.parametrize("scale", [1.0, 50.0, 1000.0])
def test_cross_entropy_matches_torch_and_stays_finite(scale):
    rng = np.random.default_rng(0)
    logits, targets = scale * rng.normal(size=(6, 5)), rng.integers(0, 5, size=6)
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(targets)).item()
    assert np.isfinite(ref.cross_entropy(logits, targets))
    np.testing.assert_allclose(ref.cross_entropy(logits, targets), expected, rtol=1e-12)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    """d(loss)/d(logits) = (softmax - onehot) / B, checked by central finite differences."""
    rng = np.random.default_rng(1)
    logits, targets = rng.normal(size=(3, 4)), np.array([0, 3, 1])
    eps, numeric = 1e-6, np.zeros_like(logits)
    for i in np.ndindex(*logits.shape):
        bump = np.zeros_like(logits)
        bump[i] = eps
        numeric[i] = (ref.cross_entropy(logits + bump, targets) - ref.cross_entropy(logits - bump, targets)) / (2 * eps)
    analytic = (np.exp(ref.log_softmax(logits)) - np.eye(4)[targets]) / len(targets)
    np.testing.assert_allclose(numeric, analytic, atol=1e-8)


# --- the hidden tests themselves: pass on the reference, fail on each known mistake with its name ---

@pytest.fixture(scope="module")
def check_close():
    """The notebook's own check_close, taken from the source notebook's setup cell."""
    return setup_namespace(SOLUTIONS, "ch04_recurrent_networks")["check_close"]


def test_hidden_tests_pass_on_the_reference(check_close, capsys):
    checkers, calls = counted(check_close=check_close)
    for part in ("rnn_step", "rnn_forward", "many_to_one_logits", "cross_entropy"):
        before = len(calls)
        check_part(A, part, getattr(ref, part), **checkers)
        assert len(calls) > before, part
    assert capsys.readouterr().out.count("ok:") == len(calls)  # every check the judges made passed


@pytest.mark.parametrize("mistake", sorted(hidden.STEP_MISTAKES))
def test_hidden_step_test_names_each_mistake(check_close, mistake):
    with pytest.raises(AssertionError, match="your result matches " + mistake.split(" (")[0][:20]):
        check_part(A, "rnn_step", hidden.STEP_MISTAKES[mistake], check_close=check_close)


def test_every_known_mistake_changes_the_output():
    """A 'mistake' equal to the right answer would make its diagnosis meaningless."""
    c = probes.random_case(probes.SEEDS[0])
    args = (c["X"], c["h0"], c["W_xh"], c["W_hh"], c["b_h"])
    right = ref.rnn_forward(*args)
    for name, wrong in hidden.forward_mistakes(*args).items():
        assert not np.allclose(wrong, right), name


def test_diagnose_finds_nothing_for_unknown_answers():
    assert diagnose(np.zeros(3), {"a": np.ones(3)}) == ""
    assert diagnose("not an array", {"a": np.ones(3)}) == ""


def test_later_parts_are_graded_on_reference_earlier_parts(check_close):
    """A wrong rnn_step must not cost points again in rnn_forward."""
    namespace = {"rnn_step": hidden.STEP_MISTAKES["a missing bias b_h"]}

    def student_forward(X, h0, W_xh, W_hh, b_h):  # calls whatever rnn_step is in its namespace
        h, states = (np.zeros((X.shape[0], W_hh.shape[0])) if h0 is None else h0), []
        for t in range(X.shape[1]):
            h = namespace["rnn_step"](X[:, t], h, W_xh, W_hh, b_h)
            states.append(h)
        return np.stack(states, axis=1)

    check_part(A, "rnn_forward", student_forward, namespace, check_close=check_close)
    assert namespace["rnn_step"] is ref.rnn_step
    use_reference_parts(namespace, rnn_step=None)
    assert namespace["rnn_step"] is None


@pytest.mark.parametrize("part", ["rnn_step", "rnn_forward", "many_to_one_logits", "cross_entropy"])
@pytest.mark.parametrize("forged", [[], None, {}, "ok", [0.0]])
def test_judges_refuse_a_forged_report(check_close, part, forged):
    """A kernel that replaced the probe can send anything: a short or odd report must fail, not pass."""
    with pytest.raises(AssertionError, match="did not receive"):
        getattr(hidden, f"judge_{part}")(forged, check_close)


def _forward_mistake(name):
    def student(X, h0, W_xh, W_hh, b_h):
        h0 = np.zeros((X.shape[0], W_hh.shape[0])) if h0 is None else h0
        return hidden.forward_mistakes(X, h0, W_xh, W_hh, b_h)[name]
    return student


@pytest.mark.parametrize("mistake", sorted(hidden.forward_mistakes(*probes.forward_args(probes.SEEDS[0]))))
def test_hidden_forward_test_names_each_mistake(check_close, mistake):
    import re

    with pytest.raises(AssertionError, match="your result matches " + re.escape(mistake[:20])):
        check_part(A, "rnn_forward", _forward_mistake(mistake), check_close=check_close)


@pytest.mark.parametrize("student,says", [
    (lambda X, h0, W_xh, W_hh, b_h, W_hy, b_y: ref.rnn_forward(X, h0, W_xh, W_hh, b_h)[:, 0] @ W_hy.T + b_y,
     "first hidden state"),
    (lambda X, h0, W_xh, W_hh, b_h, W_hy, b_y: ref.rnn_forward(X, h0, W_xh, W_hh, b_h).mean(1) @ W_hy.T + b_y,
     "mean of all hidden states"),
    (lambda X, h0, W_xh, W_hh, b_h, W_hy, b_y: ref.rnn_forward(X, h0, W_xh, W_hh, b_h)[:, -1] @ W_hy.T,
     "missing output bias"),
])
def test_hidden_many_to_one_test_names_each_mistake(check_close, student, says):
    with pytest.raises(AssertionError, match=says):
        check_part(A, "many_to_one_logits", student, check_close=check_close)


@pytest.mark.parametrize("student,says", [
    (lambda logits, targets: ref.cross_entropy(logits, targets) * len(targets), "sum over the batch"),
    (lambda logits, targets: ref.cross_entropy(logits, targets) / np.log(2), "base-2 logarithm"),
    (lambda logits, targets: -ref.cross_entropy(logits, targets), "missing minus sign"),
    (lambda logits, targets: -np.log((np.exp(logits) / np.exp(logits).sum(1, keepdims=True))[
        np.arange(len(targets)), targets]).mean(), "subtract each row's maximum"),
])
def test_hidden_cross_entropy_test_names_each_mistake(check_close, student, says):
    with np.errstate(all="ignore"), pytest.raises(AssertionError, match=says):
        check_part(A, "cross_entropy", student, check_close=check_close)


def test_probe_sizes_vary_and_reach_the_boundary():
    """H and D are not the same in every case, and one case is a single sequence of a single step."""
    cases = [probes.random_case(seed) for seed in probes.SEEDS]
    assert len({c["W_hh"].shape[0] for c in cases}) == len(cases)
    assert len({c["X"].shape[2] for c in cases}) > 1
    assert any(c["X"].shape[:2] == (1, 1) for c in cases)


def test_a_forward_that_squeezes_fails_only_at_the_boundary(check_close):
    """np.squeeze is right for B, T > 1 and wrong for B = T = 1: the boundary case catches it."""
    def squeezed(X, h0, W_xh, W_hh, b_h):
        return np.squeeze(ref.rnn_forward(X, h0, W_xh, W_hh, b_h))
    for seed in probes.SEEDS:
        args = probes.forward_args(seed)
        assert (squeezed(*args).shape == ref.rnn_forward(*args).shape) == (seed != probes.BOUNDARY_SEED)
    with pytest.raises(AssertionError, match=r"got shape \(2,\), expected \(1, 1, 2\)"):
        check_part(A, "rnn_forward", squeezed, check_close=check_close)
