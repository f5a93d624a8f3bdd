"""The chapter 6 reference against torch autograd and finite differences; the hidden tests against the reference."""
import re

import numpy as np
import pytest
import torch

from counting import counted
from grader.course import SOLUTIONS
from grader.hidden_tests import ch06_backpropagation_through_time as hidden
from grader.hidden_tests import check_part
from grader.probes import ch06_backpropagation_through_time as probes
from grader.reference import ch06_backpropagation_through_time as ref
from submission_bank import setup_namespace

A = "ch06_backpropagation_through_time"


def torch_grads(X, Y, h0, W_xh, W_hh, b_h, W_hy, b_y, k=None):
    """Autograd through an explicit loop; with k the state is detached every k steps."""
    ps = [torch.tensor(a, requires_grad=True) for a in (W_xh, W_hh, b_h, W_hy, b_y, h0)]
    W_xh, W_hh, b_h, W_hy, b_y, h = ps
    logits = []
    for t in range(X.shape[1]):
        if k and t and t % k == 0:
            h = h.detach()
        h = torch.tanh(torch.from_numpy(X[:, t]) @ W_xh.T + h @ W_hh.T + b_h)
        logits.append(h @ W_hy.T + b_y)
    C = W_hy.shape[0]
    torch.nn.functional.cross_entropy(torch.stack(logits, 1).reshape(-1, C), torch.from_numpy(Y).reshape(-1)).backward()
    return {n: p.grad.numpy() for n, p in zip(ref.GRAD_NAMES, ps)}


@pytest.mark.parametrize("seed", [*range(4), *probes.SEEDS])
def test_forward_loss_matches_torch_rnn(seed):
    """torch.nn.RNN is the oracle of all three copies of the forward pass: the reference, the probe's
    (which builds the caches it feeds to rnn_backward) and the notebook's setup cell."""
    c = probes.random_case(seed)
    rnn = torch.nn.RNN(c["W_xh"].shape[1], c["W_xh"].shape[0], batch_first=True).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(c["W_xh"]))
        rnn.weight_hh_l0.copy_(torch.from_numpy(c["W_hh"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(c["b_h"]))
        rnn.bias_hh_l0.zero_()
        out = rnn(torch.from_numpy(c["X"]), torch.from_numpy(c["h0"])[None])[0]
        logits = out @ torch.from_numpy(c["W_hy"]).T + torch.from_numpy(c["b_y"])
        expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1), torch.from_numpy(c["Y"]).flatten()).item()
    setup_loss, setup_cache = setup_namespace(SOLUTIONS, A)["rnn_forward"](*probes.args_of(c))
    for loss, cache in (ref.rnn_forward(*probes.args_of(c)), (setup_loss, setup_cache), (None, probes.forward_cache(seed))):
        if loss is not None:
            np.testing.assert_allclose(loss, expected, rtol=1e-12)
        np.testing.assert_allclose(cache["H"], out.numpy(), rtol=1e-10, atol=1e-12)
        P = torch.softmax(logits, dim=2).numpy()
        np.testing.assert_allclose(cache["P"], P, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_rnn_backward_matches_autograd(seed):
    c = probes.random_case(seed)
    g = ref.rnn_backward(ref.rnn_forward(*probes.args_of(c))[1])
    expected = torch_grads(*probes.args_of(c))
    for n in ref.GRAD_NAMES:
        np.testing.assert_allclose(g[n], expected[n], rtol=1e-9, atol=1e-12, err_msg=n)


def test_rnn_backward_matches_finite_differences_everywhere():
    c = probes.random_case(11)
    args = list(probes.args_of(c))
    g = ref.rnn_backward(ref.rnn_forward(*args)[1])
    where = {"dW_xh": 3, "dW_hh": 4, "db_h": 5, "dW_hy": 6, "db_y": 7, "dh0": 2}
    for n, i in where.items():
        numeric = np.zeros_like(args[i])
        for idx in np.ndindex(*args[i].shape):
            up = [np.array(a, copy=True) for a in args]
            down = [np.array(a, copy=True) for a in args]
            up[i][idx] += 1e-6
            down[i][idx] -= 1e-6
            numeric[idx] = (ref.rnn_forward(*up)[0] - ref.rnn_forward(*down)[0]) / 2e-6
        np.testing.assert_allclose(g[n], numeric, atol=1e-8, err_msg=n)


def test_jacobians_match_autograd():
    c = probes.random_case(5)
    X, W_xh, W_hh, b_h = c["X"][0], c["W_xh"], c["W_hh"], c["b_h"]
    H = ref.rnn_forward(*probes.args_of(c))[1]["H"][0]
    T = len(H)
    for k in range(T):
        for t in range(k, T):
            def run(h):
                for m in range(k + 1, t + 1):
                    h = torch.tanh(torch.from_numpy(W_xh @ X[m] + b_h) + torch.from_numpy(W_hh) @ h)
                return h
            expected = torch.autograd.functional.jacobian(run, torch.from_numpy(H[k])).numpy()
            np.testing.assert_allclose(ref.jacobian_product(H, W_hh, k, t), expected, atol=1e-12)
    one_step = torch.autograd.functional.jacobian(  # dh_2/dh_1 by autograd, not through jacobian_product
        lambda h: torch.tanh(torch.from_numpy(W_xh @ X[2] + b_h) + torch.from_numpy(W_hh) @ h), torch.from_numpy(H[1]))
    np.testing.assert_allclose(ref.step_jacobian(H[2], W_hh), one_step.numpy(), atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 100])
def test_truncated_grads_match_torch_with_detach(k):
    c = probes.random_case(7)
    expected = torch_grads(*probes.args_of(c), k=k)
    got = ref.truncated_bptt_grads(*probes.args_of(c), k)
    for n in ref.GRAD_NAMES[:-1]:
        np.testing.assert_allclose(got[n], expected[n], rtol=1e-9, atol=1e-12, err_msg=n)


def test_truncation_leaves_output_gradients_alone():
    """Cutting the recurrent path changes dW_xh, dW_hh, db_h but never dW_hy, db_y."""
    args = probes.args_of(probes.random_case(9))
    full = ref.rnn_backward(ref.rnn_forward(*args)[1])
    cut = ref.truncated_bptt_grads(*args, 1)
    np.testing.assert_allclose(cut["dW_hy"], full["dW_hy"])
    assert not np.allclose(cut["dW_hh"], full["dW_hh"])


def test_clip_by_global_norm():
    rng = np.random.default_rng(0)
    g = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=5)}
    clipped = ref.clip_by_global_norm(g, 0.5)
    np.testing.assert_allclose(np.sqrt(sum((v ** 2).sum() for v in clipped.values())), 0.5)
    ts = [torch.tensor(v, requires_grad=True) for v in g.values()]
    for t, v in zip(ts, g.values()):
        t.grad = torch.from_numpy(v.copy())
    torch.nn.utils.clip_grad_norm_(ts, 0.5)
    for t, v in zip(ts, clipped.values()):
        np.testing.assert_allclose(t.grad.numpy(), v, rtol=1e-6)
    np.testing.assert_allclose(ref.clip_by_global_norm(g, 1e6)["a"], g["a"])


# --- the hidden tests: pass on the reference, name each catalogued mistake ---

@pytest.fixture(scope="module")
def check_close():
    return setup_namespace(SOLUTIONS, A)["check_close"]


def test_setup_forward_is_the_reference():
    ns = setup_namespace(SOLUTIONS, A)
    args = probes.args_of(probes.random_case(3))
    loss, cache = ns["rnn_forward"](*args)
    ref_loss, ref_cache = ref.rnn_forward(*args)
    assert loss == ref_loss and set(cache) == set(ref_cache)
    np.testing.assert_array_equal(cache["H"], ref_cache["H"])
    got = ns["torch_grads"](*args)
    for n in ref.GRAD_NAMES:
        np.testing.assert_allclose(got[n], ref.rnn_backward(ref_cache)[n], atol=1e-12)


def test_probe_forward_is_the_reference_forward():
    """The probe builds rnn_backward's cache itself: it must be exactly the reference forward's cache."""
    for seed in probes.SEEDS:
        cache = probes.forward_cache(seed)
        ref_cache = ref.rnn_forward(*probes.args_of(probes.random_case(seed)))[1]
        assert set(cache) == set(ref_cache)
        for name in cache:
            np.testing.assert_array_equal(cache[name], ref_cache[name], err_msg=name)


def test_hidden_tests_pass_on_the_reference(check_close, capsys):
    ns, (checkers, calls) = {}, counted(check_close=check_close)
    for part in ("rnn_backward", "step_jacobian", "jacobian_product", "truncated_bptt_grads"):
        before = len(calls)
        check_part(A, part, getattr(ref, part), ns, **checkers)
        assert len(calls) > before, part
    assert ns["rnn_backward"] is ref.rnn_backward and ns["step_jacobian"] is ref.step_jacobian
    assert ns["rnn_forward"] is ref.rnn_forward
    assert capsys.readouterr().out.count("ok:") == len(calls)  # every check the judges made passed


def test_later_parts_are_graded_on_reference_earlier_parts(check_close):
    """A wrong rnn_backward (or step_jacobian) must not cost points again in the parts that call it."""
    ns = {"rnn_forward": ref.rnn_forward, "step_jacobian": hidden.STEP_MISTAKES[sorted(hidden.STEP_MISTAKES)[0]],
          "rnn_backward": lambda cache: hidden._backward_variant(cache, summed=True)}

    def student_product(H, W_hh, k, t):  # calls whatever step_jacobian is in its namespace
        J = np.eye(W_hh.shape[0])
        for m in range(k + 1, t + 1):
            J = ns["step_jacobian"](H[m], W_hh) @ J
        return J

    def student_truncated(X, Y, h0, W_xh, W_hh, b_h, W_hy, b_y, k):
        T, total, h = X.shape[1], {n: 0.0 for n in ref.GRAD_NAMES[:-1]}, h0
        for s in range(0, T, k):
            _, cache = ns["rnn_forward"](X[:, s:s + k], Y[:, s:s + k], h, W_xh, W_hh, b_h, W_hy, b_y)
            g = ns["rnn_backward"](cache)
            for n in total:
                total[n] = total[n] + g[n] * X[:, s:s + k].shape[1] / T
            h = cache["H"][:, -1]
        return total

    check_part(A, "jacobian_product", student_product, ns, check_close=check_close)
    check_part(A, "truncated_bptt_grads", student_truncated, ns, check_close=check_close)
    assert ns["step_jacobian"] is ref.step_jacobian and ns["rnn_backward"] is ref.rnn_backward


@pytest.mark.parametrize("flag", ["next_term", "preact_slope", "transposed", "summed"])
def test_hidden_backward_test_names_each_mistake(check_close, flag):
    value = flag != "next_term"  # next_term=False switches that mistake on
    wrong = lambda cache: hidden._backward_variant(cache, **{flag: value})
    with pytest.raises(AssertionError, match="your result matches"):
        check_part(A, "rnn_backward", wrong, check_close=check_close)


@pytest.mark.parametrize("mistake", sorted(hidden.STEP_MISTAKES))
def test_hidden_step_test_names_each_mistake(check_close, mistake):
    with pytest.raises(AssertionError, match="your result matches " + re.escape(mistake[:15])):
        check_part(A, "step_jacobian", hidden.STEP_MISTAKES[mistake], check_close=check_close)


@pytest.mark.parametrize("returned, says", [((1, 2), "must return a dict with keys"),
                                            ({}, "has no key 'dW_xh'"),
                                            ((g for g in ()), "got an object of type builtins.generator")])
def test_hidden_backward_test_says_what_to_return(check_close, returned, says):
    with pytest.raises(AssertionError, match=re.escape(says)):
        check_part(A, "rnn_backward", lambda cache: returned, check_close=check_close)


def test_judges_reject_reports_with_too_few_results(check_close):
    """A forged report with fewer results than cases must fail, not pass on the cases it left out."""
    for part in ("rnn_backward", "step_jacobian", "jacobian_product", "truncated_bptt_grads"):
        with pytest.raises(AssertionError, match="one result per test case"):
            getattr(hidden, f"judge_{part}")([], check_close)
    with pytest.raises(AssertionError, match="one result per test case"):
        hidden.judge_truncated_bptt_grads([[]] * len(probes.SEEDS), check_close)


def test_probes_call_on_copies():
    """A function that writes into its inputs cannot change what the next call receives."""
    def vandal(cache):
        for v in cache.values():
            v[...] = 0
        return {}
    probes.probe_rnn_backward(vandal)
    assert np.abs(probes.forward_cache(probes.SEEDS[0])["H"]).sum() > 0
    seen = []

    def product_vandal(H, W_hh, k, t):
        seen.append(H.sum())
        H[...] = 0
        return np.eye(len(W_hh))
    probes.probe_jacobian_product(product_vandal)
    assert all(s != 0 for s in seen)


def test_every_known_mistake_changes_the_output():
    for seed in probes.SEEDS:
        c = probes.random_case(seed)
        args = probes.args_of(c)
        cache = ref.rnn_forward(*args)[1]
        right = ref.rnn_backward(cache)
        for name, wrong in hidden.backward_mistakes(cache).items():
            assert any(not np.allclose(wrong[n], right[n]) for n in right), name
        H, W = cache["H"][0], c["W_hh"]
        T = len(H)
        for name, wrong in hidden.product_mistakes(H, W, 1, T - 1).items():
            assert not np.allclose(wrong, ref.jacobian_product(H, W, 1, T - 1)), name
        truncated = ref.truncated_bptt_grads(*args, 2)
        for name, wrong in hidden.truncated_mistakes(args, 2).items():
            assert any(not np.allclose(wrong[n], truncated[n]) for n in truncated), name


@pytest.mark.parametrize("mistake", sorted(hidden.product_mistakes(*probes.product_args(probes.SEEDS[0]), 1, 4)))
def test_hidden_product_test_names_each_mistake(check_close, mistake):
    students = {"wrong order": lambda H, W, k, t: hidden._product(H, W, k, t, order="earlier-left"),
                "one factor too many": lambda H, W, k, t: hidden._product(H, W, k - 1, t),
                "off by one in time": lambda H, W, k, t: hidden._product(H, W, k, t, shift=-1),
                "W_hh alone": lambda H, W, k, t: np.linalg.matrix_power(W, t - k)}
    student = next(s for words, s in students.items() if words in mistake)
    with pytest.raises(AssertionError, match="your result matches " + re.escape(mistake[:25])):
        check_part(A, "jacobian_product", student, check_close=check_close)


@pytest.mark.parametrize("mistake", sorted(hidden.truncated_mistakes(probes.args_of(probes.random_case(601)), 2)))
def test_hidden_truncated_test_names_each_mistake(check_close, mistake):
    def student(X, Y, h0, W_xh, W_hh, b_h, W_hy, b_y, k):
        wrong = hidden.truncated_mistakes((X, Y, h0, W_xh, W_hh, b_h, W_hy, b_y), k)[mistake]
        return {n: wrong[n] for n in ref.GRAD_NAMES[:-1]}
    with pytest.raises(AssertionError, match="your result matches " + re.escape(mistake[:25])):
        check_part(A, "truncated_bptt_grads", student, check_close=check_close)


def test_probe_sizes_vary_and_reach_the_boundaries():
    """B is not the same in every case (one case has B = 1); k = 1 and k = T are among the truncations."""
    cases = [probes.random_case(seed) for seed in probes.SEEDS]
    assert len({c["X"].shape[0] for c in cases}) == len(cases) and min(c["X"].shape[0] for c in cases) == 1
    for seed, c in zip(probes.SEEDS, cases):
        assert {1, c["X"].shape[1]} <= set(probes.truncation_lengths(seed))
