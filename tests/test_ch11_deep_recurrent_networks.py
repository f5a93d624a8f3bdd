"""The chapter 11 reference against torch, scikit-learn and reservoirpy, and the hidden tests against each named mistake."""
import re

import numpy as np
import pytest
import torch

from grader.course import SOLUTIONS
from grader.hidden_tests import ch11_deep_recurrent_networks as hidden
from grader.hidden_tests import check_part
from grader.probes import ch11_deep_recurrent_networks as probes
from grader.reference import ch11_deep_recurrent_networks as ref
from submission_bank import setup_namespace

A = "ch11_deep_recurrent_networks"
PARTS = hidden.PARTS
ELMAN = [("x", "h", 0), ("h", "h", 1), ("h", "y", 0)]
DT = [("x", "z", 0), ("h", "z", 1), ("z", "h", 0), ("h", "y", 0)]


# --- the reference against torch, brute force, scikit-learn and reservoirpy ---

@pytest.mark.parametrize("seed", [*probes.SEEDS, 0])
def test_dt_rnn_step_matches_torch_layers(seed):
    x_t, h_prev, W_xh, W_hh, b_h, W_zz, b_z = probes.dt_case(seed)
    cell = torch.nn.RNNCell(W_xh.shape[1], W_hh.shape[0]).double()
    with torch.no_grad():
        for p, v in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih), (W_xh, W_hh, b_h)):
            p.copy_(torch.from_numpy(v))
        cell.bias_hh.zero_()
        z = cell(torch.from_numpy(x_t), torch.from_numpy(h_prev))
        for W, b in zip(W_zz, b_z):
            z = torch.tanh(torch.nn.functional.linear(z, torch.from_numpy(W), torch.from_numpy(b)))
    np.testing.assert_allclose(ref.dt_rnn_step(x_t, h_prev, W_xh, W_hh, b_h, W_zz, b_z), z.numpy(), rtol=1e-12)


def test_probe_cases_cover_the_edge_cases():
    extras = [len(probes.dt_case(s)[5]) for s in probes.SEEDS]
    assert 0 in extras and max(extras) >= 2
    assert all(probes.dt_case(s)[0].shape[1] != probes.dt_case(s)[1].shape[1] for s in probes.SEEDS)
    assert any(S.shape[0] < S.shape[1] for S, _, _ in map(probes.ridge_case, probes.SEEDS))
    assert any(np.iscomplex(np.linalg.eigvals(probes.reservoir_case(s)[0])).any() for s in probes.SEEDS)


def _all_path_lengths(edges, source, target):
    """Every path's length, by exhaustive enumeration (independent of the reference's memoised search)."""
    lengths, stack = [], [(source, 0)]
    while stack:
        node, n = stack.pop()
        if node == target:
            lengths.append(n)
        stack.extend((b, n + 1) for a, b in edges if a == node)
    return lengths


@pytest.mark.parametrize("seed", probes.DEPTH_CASES)
def test_depths_match_exhaustive_search(seed):
    edges = probes.random_architecture(seed)
    graph = ref.unrolled(edges, 3)
    d_f = max(_all_path_lengths(graph, ("x", 1), ("y", 1)))
    d_r = max(max(p) for s in {a for a, _, lag in edges if lag == 1}
              if (p := _all_path_lengths(graph, (s, 1), (s, 2))))
    assert ref.depths(edges) == (d_f, d_r)


def test_depths_of_the_chapters_architectures():
    assert ref.depths(ELMAN) == (2, 1)
    assert ref.depths(DT) == ref.depths(DT + [("h", "h", 1)]) == (3, 2)
    assert ref.depths([("x", "h1", 0), ("h1", "h1", 1), ("h1", "h2", 0), ("h2", "h2", 1), ("h2", "y", 0)]) == (3, 1)


@pytest.mark.parametrize("edges, says", [
    ([("x", "h", 0), ("h", "z", 0), ("z", "h", 0), ("h", "y", 0), ("h", "h", 1)], "cycle"),
    ([("x", "h", 2), ("h", "y", 0)], "lag 0 or 1"),
    ([("x", "h", 0), ("h", "h", 1)], "no path from x to y"),
])
def test_depths_refuse_bad_architectures(edges, says):
    with pytest.raises(ValueError, match=says):
        ref.depths(edges)


@pytest.mark.parametrize("seed", probes.SEEDS)
def test_scale_reservoir_sets_the_spectral_radius(seed):
    W, rho = probes.reservoir_case(seed)
    before = W.copy()
    scaled = ref.scale_reservoir(W, rho)
    assert np.isclose(np.abs(np.linalg.eigvals(scaled)).max(), rho)
    np.testing.assert_array_equal(W, before)


@pytest.mark.parametrize("seed", probes.SEEDS)
def test_ridge_readout_matches_sklearn_and_reservoirpy(seed):
    from reservoirpy.nodes import Ridge
    from sklearn.linear_model import Ridge as SklearnRidge
    S, Y, beta = probes.ridge_case(seed)
    W_out = ref.ridge_readout(S, Y, beta)
    np.testing.assert_allclose(W_out, SklearnRidge(alpha=beta, fit_intercept=False).fit(S, Y).coef_.reshape(W_out.shape), rtol=1e-8, atol=1e-10)
    node = Ridge(ridge=beta, fit_bias=False)
    node.fit(S, Y)
    np.testing.assert_allclose(W_out, node.Wout.T, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("case", probes.SHAPE_CASES)
def test_shapes_match_a_torch_model(case):
    B, T, D, H, num_layers, depth = case
    shapes = ref.stacked_bidirectional_dt_shapes(*case)
    cells = [torch.nn.ModuleList([torch.nn.Linear(d_in, H), torch.nn.Linear(H, H, bias=False),
                                  *(torch.nn.Linear(H, H) for _ in range(depth - 1))])
             for d_in in [D] + [2 * H] * (num_layers - 1) for _ in range(2)]
    assert shapes["n_params"] == sum(p.numel() for cell in cells for p in cell.parameters())
    assert shapes["W_xh"] == [tuple(cells[2 * k][0].weight.shape) for k in range(num_layers)]
    rnn = torch.nn.RNN(D, H, num_layers=num_layers, batch_first=True, bidirectional=True)
    output, h_n = rnn(torch.zeros(B, T, D))
    assert shapes["output"] == tuple(output.shape) and shapes["h_n"] == tuple(h_n.shape)


# --- the hidden tests: pass on the reference, fail on each named mistake with its name ---

@pytest.fixture(scope="module")
def check_close():
    return setup_namespace(SOLUTIONS, A)["check_close"]


def test_hidden_tests_pass_on_the_reference(check_close, capsys):
    for part in PARTS:
        check_part(A, part, getattr(ref, part), check_close=check_close)
    assert capsys.readouterr().out.count("ok:") >= 4 * len(probes.SEEDS)


@pytest.mark.parametrize("mistake", sorted(hidden.DT_MISTAKES))
def test_hidden_dt_test_names_each_mistake(check_close, mistake):
    with pytest.raises(AssertionError, match=re.escape("your result matches " + mistake[:25])):
        check_part(A, "dt_rnn_step", hidden.DT_MISTAKES[mistake], check_close=check_close)


def test_every_dt_mistake_changes_the_output():
    for seed in probes.SEEDS:
        args = probes.dt_case(seed)
        for name, step in hidden.DT_MISTAKES.items():
            if len(args[5]) == 0 and name != "a sigmoid where every layer uses tanh":
                continue  # with no extra layer these coincide with the right answer
            if len(args[5]) == 1 and "reverse" in name:
                continue
            assert not np.allclose(step(*args), ref.dt_rnn_step(*args)), (seed, name)


@pytest.mark.parametrize("wrong, says", [
    (lambda edges: tuple(n + 1 for n in ref.depths(edges)), "nodes counted instead of connections"),
    (lambda edges: (ref.depths(edges)[0], 1), "always 1"),
    (lambda edges: ref.depths(edges)[::-1], "swapped"),
    (lambda edges: [float(n) for n in ref.depths(edges)], "expected integers"),
    (lambda edges: ref.depths(edges)[0], "expected the pair"),
])
def test_hidden_depths_test_names_each_mistake(check_close, wrong, says):
    with pytest.raises(AssertionError, match=says):
        check_part(A, "depths", wrong, check_close=check_close)


def test_shortest_path_mistake_is_named(check_close):
    def shortest(edges):
        return hidden._depth_mistakes(edges)["the shortest path instead of the longest"]
    assert any(shortest(probes.random_architecture(s)) != ref.depths(probes.random_architecture(s))
               for s in probes.DEPTH_CASES)
    with pytest.raises(AssertionError, match="shortest path instead of the longest"):
        check_part(A, "depths", shortest, check_close=check_close)


@pytest.mark.parametrize("wrong, says", [
    (lambda W, rho: W * rho / np.linalg.norm(W, 2), "largest singular value"),
    (lambda W, rho: W * rho / np.max(np.linalg.eigvals(W).real), "largest real part"),
    (lambda W, rho: W / np.abs(np.linalg.eigvals(W)).max(), "rho is forgotten"),
    (lambda W, rho: W * rho, "without dividing"),
    (lambda W, rho: None, "got None"),
])
def test_hidden_reservoir_test_names_each_mistake(check_close, wrong, says):
    with pytest.raises(AssertionError, match=says):
        check_part(A, "scale_reservoir", wrong, check_close=check_close)


def test_scaling_in_place_is_caught(check_close):
    def in_place(W, rho):
        W *= rho / np.abs(np.linalg.eigvals(W)).max()
        return W
    with pytest.raises(AssertionError, match="left unchanged"):
        check_part(A, "scale_reservoir", in_place, check_close=check_close)


@pytest.mark.parametrize("wrong, says", [
    (lambda S, Y, beta: np.linalg.lstsq(S, Y, rcond=None)[0].T, "penalty beta is missing"),
    (lambda S, Y, beta: np.linalg.solve(S.T @ S + beta, S.T @ Y).T, "every entry"),
    (lambda S, Y, beta: ref.ridge_readout(S, Y, beta ** 2), "beta squared"),
    (lambda S, Y, beta: ref.ridge_readout(S, Y, beta / len(S)), "beta / N"),
    (lambda S, Y, beta: ref.ridge_readout(S, Y, beta).T, "W_out transposed"),
])
def test_hidden_ridge_test_names_each_mistake(check_close, wrong, says):
    with pytest.raises(AssertionError, match=re.escape(says)):
        check_part(A, "ridge_readout", wrong, check_close=check_close)


def _shapes_with(**changes):
    def shapes(B, T, D, H, num_layers, depth):
        out = ref.stacked_bidirectional_dt_shapes(B, T, D, H, num_layers, depth)
        out.update({k: f(B, T, D, H, num_layers, depth) for k, f in changes.items()})
        return out
    return shapes


@pytest.mark.parametrize("wrong, says", [
    (_shapes_with(output=lambda B, T, D, H, L, d: (B, T, H)), "one direction only"),
    (_shapes_with(h_n=lambda B, T, D, H, L, d: (L, B, H)), "one final state per layer"),
    (_shapes_with(W_xh=lambda B, T, D, H, L, d: [(H, D)] * L), "every layer reading D inputs"),
    (_shapes_with(n_params=lambda B, T, D, H, L, d: ref.stacked_bidirectional_dt_shapes(B, T, D, H, L, d)["n_params"] // 2),
     "one direction only"),
    (_shapes_with(n_params=lambda B, T, D, H, L, d: ref.stacked_bidirectional_dt_shapes(B, T, D, H, L, 1)["n_params"]),
     "no parameters for the extra transition layers"),
    (_shapes_with(n_params=lambda B, T, D, H, L, d: float(ref.stacked_bidirectional_dt_shapes(B, T, D, H, L, d)["n_params"])),
     "expected integers"),
    (lambda *case: (1, 2, 3), "expected a dict"),
])
def test_hidden_shapes_test_names_each_mistake(check_close, wrong, says):
    with pytest.raises(AssertionError, match=says):
        check_part(A, "stacked_bidirectional_dt_shapes", wrong, check_close=check_close)


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("forged", [[], None, {}, "ok", [0.0]])
def test_judges_refuse_a_forged_report(check_close, part, forged):
    with pytest.raises(AssertionError, match="did not receive"):
        getattr(hidden, f"judge_{part}")(forged, check_close)
