"""The chapter 7 reference against torch (autograd, clipping utilities, initialisers), its data in
grader.datasets, and the hidden tests against the reference and each catalogued mistake."""
import re

import numpy as np
import pytest
import torch

from grader import datasets
from grader.course import EXERCISES, SOLUTIONS
from grader.hidden_tests import ch07_vanishing_exploding_gradients as hidden
from grader.hidden_tests import check_part
from grader.probes import ch07_vanishing_exploding_gradients as probes
from grader.reference import ch07_vanishing_exploding_gradients as ref
from submission_bank import setup_namespace, solution_sources

import bank_ch07_vanishing_exploding_gradients as bank

A = "ch07_vanishing_exploding_gradients"


# --- the reference against torch ---

@pytest.mark.parametrize("seed", range(4))
def test_jacobian_norms_match_autograd(seed):
    H, W = probes.tanh_states(seed)
    inputs = np.empty_like(H)  # recover the inputs the probe used: h_m = tanh(W h_{m-1} + x_m)
    inputs[1:] = np.arctanh(H[1:]) - H[:-1] @ W.T

    def run(h, s):
        for m in range(1, s + 1):
            h = torch.tanh(torch.from_numpy(W) @ h + torch.from_numpy(inputs[m]))
        return h
    expected = [torch.linalg.matrix_norm(torch.autograd.functional.jacobian(lambda h: run(h, s),
                                                                            torch.from_numpy(H[0])), ord=2).item()
                for s in range(len(H))]
    np.testing.assert_allclose(ref.jacobian_norms(H, W), expected, rtol=1e-9)


def test_linear_jacobian_norms_grow_like_the_spectral_radius():
    """With tiny states the product is W^s, and ||W^s||^(1/s) tends to rho (Gelfand's formula)."""
    rng = np.random.default_rng(0)
    W = rng.normal(size=(6, 6))
    W *= 1.1 / np.abs(np.linalg.eigvals(W)).max()
    H = np.zeros((200, 6))
    norms = ref.jacobian_norms(H, W)
    assert abs(norms[-1] ** (1 / 199) - 1.1) < 0.01
    bounds = np.array([ref.gamma_lambda_bound(W, "tanh", s) for s in range(200)])
    assert norms[-1] > 1e6 and (norms <= bounds * (1 + 1e-9)).all()


@pytest.mark.parametrize("activation, slope", [("tanh", lambda a: 1 - np.tanh(a) ** 2),
                                               ("logistic", lambda a: torch.sigmoid(torch.from_numpy(a)).numpy()
                                                * (1 - torch.sigmoid(torch.from_numpy(a)).numpy()))])
def test_bound_holds_for_both_activations(activation, slope):
    rng = np.random.default_rng(1)
    for _ in range(20):
        W, a = rng.normal(scale=1.5, size=(5, 5)), rng.normal(size=(10, 5))
        J = np.eye(5)
        for span in range(1, 10):
            J = (slope(a[span])[:, None] * W) @ J
            assert np.linalg.norm(J, 2) <= ref.gamma_lambda_bound(W, activation, span) * (1 + 1e-12)
    assert ref.gamma_lambda_bound(W, "tanh", 2) == pytest.approx(torch.linalg.matrix_norm(
        torch.from_numpy(W), ord=2).item() ** 2)
    with pytest.raises(ValueError, match="relu"):
        ref.gamma_lambda_bound(W, "relu", 1)


@pytest.mark.parametrize("seed", range(4))
def test_clipping_matches_torch(seed):
    grads = probes.gradient_lists(seed)
    for max_norm in probes.norm_thresholds(grads):
        params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g.copy())
        total = torch.nn.utils.clip_grad_norm_(params, max_norm).item()
        clipped, ours = ref.clip_grad_norm(grads, max_norm)
        assert ours == pytest.approx(total, rel=1e-12)
        for p, c in zip(params, clipped):
            np.testing.assert_allclose(c, p.grad.numpy(), rtol=1e-12)
    for value in probes.value_thresholds(grads):
        params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g.copy())
        torch.nn.utils.clip_grad_value_(params, value)
        for p, c in zip(params, ref.clip_grad_value(grads, value)):
            np.testing.assert_array_equal(c, p.grad.numpy())


def test_norm_clipping_keeps_the_direction_value_clipping_does_not():
    g = [np.array([10.0, 1.0])]
    by_norm, by_value = ref.clip_grad_norm(g, 1.0)[0][0], ref.clip_grad_value(g, 1.0)[0]
    cos = lambda u, v: u @ v / np.linalg.norm(u) / np.linalg.norm(v)
    assert cos(by_norm, g[0]) == pytest.approx(1.0) and cos(by_value, g[0]) < 0.8


def test_xavier_variance_matches_torch_init():
    n_out, n_in = 300, 100
    ours = ref.xavier_normal(n_out, n_in, np.random.default_rng(0))
    torch.manual_seed(0)
    theirs = torch.nn.init.xavier_normal_(torch.empty(n_out, n_in, dtype=torch.float64)).numpy()
    assert ours.shape == theirs.shape == (n_out, n_in)
    for W in (ours, theirs):
        assert W.var() == pytest.approx(2 / (n_in + n_out), rel=0.05)


def test_orthogonal_is_orthogonal_and_haar():
    """The sign fix makes Q uniform: E[Q_00] = 0; numpy's Q alone always has Q_00 <= 0."""
    rng = np.random.default_rng(0)
    Qs = [ref.orthogonal(8, rng) for _ in range(2000)]
    for Q in Qs[:5]:
        np.testing.assert_allclose(Q.T @ Q, np.eye(8), atol=1e-12)
    assert abs(np.mean([Q[0, 0] for Q in Qs])) < 0.03
    raw = [np.linalg.qr(rng.normal(size=(8, 8)))[0][0, 0] for _ in range(200)]
    assert max(raw) <= 0  # why the sign fix is needed (LAPACK's Householder convention)
    torch_Q = torch.nn.init.orthogonal_(torch.empty(8, 8, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(torch_Q.T @ torch_Q, np.eye(8), atol=1e-12)


def test_np_rnn_init_eigenvalues():
    for n in (4, 16, 50):
        W = ref.np_rnn_init(n, np.random.default_rng(n))
        eig = np.linalg.eigvalsh(W)
        np.testing.assert_allclose(W, W.T)
        assert eig.max() == pytest.approx(1.0) and eig.min() > 0.08


# --- the data: adding problem and temperatures in grader.datasets, and what the notebook builds ---

def test_adding_problem_structure_and_baseline():
    X, y = datasets.adding_problem(20_000, 11, 0)
    assert X.shape == (20_000, 11, 2) and y.shape == (20_000,)
    pos = np.sort(np.argwhere(X[..., 1] == 1)[:, 1].reshape(-1, 2), axis=1)
    assert (pos[:, 0] < 5).all() and (pos[:, 1] >= 5).all()
    assert set(pos[:, 0]) == set(range(5)) and set(pos[:, 1]) == set(range(5, 11))
    np.testing.assert_allclose(y, (X[..., 0] * X[..., 1]).sum(1))
    assert ref.baseline_mse(y) == pytest.approx(datasets.ADDING_BASELINE_MSE, abs=0.005)
    np.testing.assert_array_equal(datasets.adding_problem(5, 4, np.random.default_rng(3))[0],
                                  datasets.adding_problem(5, 4, 3)[0])


@pytest.mark.parametrize("n, T, says", [(0, 5, "n must be a positive integer"), (3, 1, "T must be an integer"),
                                        (2.5, 5, "n must be"), (3, True, "T must be")])
def test_adding_problem_refuses_bad_sizes(n, T, says):
    with pytest.raises(ValueError, match=says):
        datasets.adding_problem(n, T, 0)


def test_the_notebook_adding_problem_is_the_datasets_one():
    """The released notebook cannot import grader: its solution draws exactly what grader.datasets draws."""
    ns = setup_namespace(SOLUTIONS, A)
    exec(solution_sources(A)["adding_problem"], ns)
    for n, T, seed in ((7, 10, 0), (50, 13, 5)):
        for mine, theirs in zip(ns["adding_problem"](n, T, np.random.default_rng(seed)),
                                datasets.adding_problem(n, T, seed)):
            np.testing.assert_array_equal(mine, theirs)


def test_the_notebook_states_are_the_probe_states():
    ns = setup_namespace(EXERCISES, A)
    H, W = probes.tanh_states(3)
    inputs = np.zeros_like(H)
    inputs[0] = np.arctanh(H[0])
    inputs[1:] = np.arctanh(H[1:]) - H[:-1] @ W.T
    np.testing.assert_allclose(ns["tanh_states"](W, inputs), H, atol=1e-12)


def test_seattle_weather_is_the_checked_record():
    record = datasets.seattle_weather()
    assert set(record) == {"date", *datasets.WEATHER_COLUMNS, "weather"}
    assert all(len(v) == datasets.SEATTLE_WEATHER["days"] for v in record.values())
    assert str(record["date"][0]) == "2012-01-01" and str(record["date"][-1]) == "2015-12-31"
    assert (np.diff(record["date"]).astype(int) == 1).all()                     # no day missing
    assert record["temp_max"][0] == 12.8 and (record["temp_max"] >= record["temp_min"]).all()
    assert -10 < record["temp_min"].min() and record["temp_max"].max() < 40      # degrees Celsius
    assert 2 < np.diff(record["temp_max"]).std() < 4                             # weather, not a smoothed curve


def test_a_changed_weather_record_is_refused(monkeypatch):
    monkeypatch.setitem(datasets.SEATTLE_WEATHER, "sha256", "0" * 64)
    with pytest.raises(datasets.DataError, match="a different or damaged copy"):
        datasets.seattle_weather()


def test_a_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(datasets.SEATTLE_WEATHER, "package", "no_such_package_here")
    with pytest.raises(datasets.DataError, match="pip install vega_datasets==0.9.0"):
        datasets.seattle_weather()


# --- the hidden tests: pass on the reference, name each catalogued mistake ---

@pytest.fixture(scope="module")
def check_close():
    return setup_namespace(SOLUTIONS, A)["check_close"]


def test_hidden_tests_pass_on_the_reference(check_close, capsys):
    for part in hidden.PARTS:
        check_part(A, part, getattr(ref, part), check_close=check_close)
    out = capsys.readouterr().out
    assert "ok: adding_problem" in out and "ok: np_rnn_init" in out and "Error" not in out


@pytest.mark.parametrize("name", sorted(bank.MISTAKES))
def test_hidden_tests_name_each_bank_mistake(check_close, name):
    mistake = bank.MISTAKES[name]
    ns = {"np": np}
    exec(mistake.code, ns)
    with pytest.raises(AssertionError, match=re.escape(mistake.says)):
        check_part(A, mistake.cell, ns[mistake.cell], check_close=check_close)


def _catalogued(part, catalogue):
    """One wrong function per entry of a judge's catalogue, evaluated on the probe's own inputs."""
    def wrong_for(name):
        if part == "jacobian_norms":
            return lambda H, W: hidden.norm_mistakes(H, W)[name]
        if part == "gamma_lambda_bound":
            return lambda W, activation, span: hidden.bound_mistakes(W, activation, span)[name]
        if part == "clip_grad_norm":
            return lambda grads, max_norm: (hidden.clip_norm_mistakes(grads, max_norm)[name],
                                            ref.clip_grad_norm(grads, max_norm)[1])
        return lambda grads, value: hidden.clip_value_mistakes(grads, value)[name]
    return [(part, name, wrong_for(name)) for name in catalogue]


CATALOGUE = (
    _catalogued("jacobian_norms", hidden.norm_mistakes(*probes.tanh_states(probes.SEEDS[0])))
    + _catalogued("gamma_lambda_bound", hidden.bound_mistakes(*probes.bound_cases(probes.SEEDS[0])[0]))
    + _catalogued("clip_grad_norm", hidden.clip_norm_mistakes(probes.gradient_lists(1), 1.0))
    + _catalogued("clip_grad_value", hidden.clip_value_mistakes(probes.gradient_lists(1), 1.0)))


@pytest.mark.parametrize("part, name, wrong", CATALOGUE, ids=[f"{p}-{n[:40]}" for p, n, _ in CATALOGUE])
def test_hidden_tests_name_each_catalogued_mistake(check_close, part, name, wrong):
    with pytest.raises(AssertionError, match="your result matches " + re.escape(name[:30])):
        check_part(A, part, wrong, check_close=check_close)


WRONG_INITS = {
    "xavier_normal": [
        (lambda n_out, n_in, rng: rng.normal(0, np.sqrt(1 / n_in), (n_out, n_in)), "1 / n_in (LeCun"),
        (lambda n_out, n_in, rng: rng.normal(0, 2 / (n_in + n_out), (n_out, n_in)), "that is the variance"),
        (lambda n_out, n_in, rng: rng.uniform(-1, 1, (n_out, n_in)) * np.sqrt(6 / (n_in + n_out)), "not rng.uniform"),
        (lambda n_out, n_in, rng: np.random.default_rng(0).normal(0, np.sqrt(2 / (n_in + n_out)), (n_out, n_in)),
         "another seed, another matrix"),
        (lambda n_out, n_in, rng: np.random.normal(0, np.sqrt(2 / (n_in + n_out)), (n_out, n_in)),
         "same rng seed, same matrix"),
        (lambda n_out, n_in, rng: rng.normal(0, np.sqrt(2 / (n_in + n_out)), (n_in, n_out)), "expected shape")],
    "orthogonal": [
        (lambda n, rng: np.linalg.qr(rng.normal(size=(n, n)))[1], "that is R of the QR decomposition"),
        (lambda n, rng: rng.normal(size=(n, n)) / np.sqrt(n), "orthogonal only on average"),
        (lambda n, rng: np.eye(n)[rng.permutation(n)], "not random")],
    "np_rnn_init": [
        (lambda n, rng: (lambda A: A / np.linalg.norm(A))((lambda R: R.T @ R / n + np.eye(n))(rng.normal(size=(n, n)))),
         "Frobenius norm"),
        (lambda n, rng: (lambda R: R.T @ R / n + np.eye(n))(rng.normal(size=(n, n))), "divide A + I by its largest"),
        (lambda n, rng: (lambda R: R / np.abs(np.linalg.eigvals(R)).max())(rng.normal(size=(n, n))), "symmetric")],
    "adding_problem": [
        (lambda n, T, rng: (lambda X: (X, X[..., 0].sum(1)))(datasets.adding_problem(n, T, rng)[0]),
         "the sum of all the numbers"),
        (lambda n, T, rng: (lambda X, y: (np.concatenate([X[..., :1] * 2 - 1, X[..., 1:]], -1), y))(
            *datasets.adding_problem(n, T, rng)), "uniform on [0, 1)"),
        (lambda n, T, rng: datasets.adding_problem(n, T, rng)[0], "return a pair (X, y)")],
    "baseline_mse": [(lambda y: float(np.var(y)), "predicting the sample mean"),
                     (lambda y: float(np.sqrt(np.mean((y - 1) ** 2))), "a root mean squared error")],
}
CASES = [(part, f, says) for part, fs in WRONG_INITS.items() for f, says in fs]


@pytest.mark.parametrize("part, wrong, says", CASES, ids=[f"{p}-{s[:30]}" for p, _, s in CASES])
def test_hidden_tests_name_wrong_initialisers_and_data(check_close, part, wrong, says):
    with pytest.raises(AssertionError, match=re.escape(says)):
        check_part(A, part, wrong, check_close=check_close)


def test_judges_reject_reports_with_too_few_results(check_close):
    for part in hidden.PARTS:
        with pytest.raises(AssertionError, match="one result per test case"):
            getattr(hidden, f"judge_{part}")([], check_close)


def test_probes_call_on_copies():
    seen = []

    def vandal(H, W_hh):
        seen.append(H.sum())
        H[...] = 0
        W_hh[...] = 0
        return np.ones(len(H))
    probes.probe_jacobian_norms(vandal)
    assert np.abs(probes.tanh_states(probes.SEEDS[0])[0]).sum() > 0 and all(s != 0 for s in seen)

    def clip_vandal(grads, max_norm):
        for g in grads:
            g[...] = 0
        return grads, 0.0
    probes.probe_clip_grad_norm(clip_vandal)
    assert all(np.abs(g).sum() > 0 for g in probes.gradient_lists(probes.SEEDS[0]))
