"""Hidden tests for the chapter 11 exercise: dt_rnn_step, depths, scale_reservoir, ridge_readout, shapes."""
import numpy as np

from grader.hidden_tests import diagnose, kind, one_per_case
from grader.probes.ch11_deep_recurrent_networks import (DEPTH_CASES, SEEDS, SHAPE_CASES, dt_case, random_architecture,
                                                        reservoir_case, ridge_case)
from grader.reference import ch11_deep_recurrent_networks as ref

PARTS = ("dt_rnn_step", "depths", "scale_reservoir", "ridge_readout", "stacked_bidirectional_dt_shapes")
# Every part is written in plain numpy: torch inside a solution costs that part's points.
POLICY = {part: ({"torch"}, f"test_{part}", "the exercise asks for plain numpy") for part in PARTS}
STATE_AXES = ("batch item", "hidden unit")


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _dt(every_layer_reads=None, extra=True, last=np.tanh, phi=np.tanh, reverse=False):
    """A deep-transition step with one deliberate change, as students write it wrong."""
    def step(x_t, h_prev, W_xh, W_hh, b_h, W_zz, b_z):
        z = phi(x_t @ W_xh.T + h_prev @ W_hh.T + b_h)
        layers = list(zip(W_zz, b_z))[::-1] if reverse else list(zip(W_zz, b_z))
        for i, (W, b) in enumerate(layers if extra else []):
            pre = z @ W.T + b
            if every_layer_reads == "x":
                pre = pre + x_t @ W_xh.T
            if every_layer_reads == "h":
                pre = pre + h_prev @ W_hh.T
            z = (last if i == len(layers) - 1 else phi)(pre)
        return z
    return step


DT_MISTAKES = {
    "the extra layers skipped: this is the one-layer Elman step": _dt(extra=False),
    "the input x_t fed to every layer (only the first layer reads it)": _dt(every_layer_reads="x"),
    "h_prev fed to every layer (only the first layer reads it; the cell has no shortcut)": _dt(every_layer_reads="h"),
    "no tanh on the last layer (h_t is the last layer's tanh)": _dt(last=lambda a: a),
    "a sigmoid where every layer uses tanh": _dt(phi=_sigmoid, last=_sigmoid),
    "the extra layers applied in reverse order (W_zz[0] comes first)": _dt(reverse=True),
}


def judge_dt_rnn_step(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "dt_rnn_step"):
        args = dt_case(seed)
        (B, D), H, n_extra = args[0].shape, args[1].shape[1], len(args[5])
        what = f"dt_rnn_step on a random case (B, D, H = {B}, {D}, {H}; {n_extra} extra layer(s))"
        try:
            h_t = np.asarray(out, dtype=float)
        except (TypeError, ValueError):
            raise AssertionError(f"{what}: expected a numpy array h_t, got {kind(out)}.") from None
        wrong = {m: step(*args) for m, step in DT_MISTAKES.items()}
        hint = diagnose(h_t, wrong) or ("z = tanh(x_t W_xh^T + h_prev W_hh^T + b_h), then z = tanh(z W^T + b) for "
                                        "each (W, b) of (W_zz, b_z) in order; h_t is the last z.")
        check_close(f"{what}: h_t", h_t, ref.dt_rnn_step(*args), STATE_AXES, hint)


def _depth_mistakes(edges):
    """Known wrong (d_f, d_r) for one architecture."""
    d_f, d_r = ref.depths(edges)
    graph = ref.unrolled(edges, 3)

    def shortest(source, target):
        frontier, seen, n = {source}, set(), 0
        while frontier and target not in frontier:
            seen |= frontier
            frontier = {b for a, b in graph if a in frontier and b not in seen}
            n += 1
        return n if frontier else None
    states = sorted({a for a, _, lag in edges if lag == 1})
    short_r = max(n for s in states if (n := shortest((s, 1), (s, 2))) is not None)
    return {
        "nodes counted instead of connections (one more than the number of connections)": (d_f + 1, d_r + 1),
        "the shortest path instead of the longest": (shortest(("x", 1), ("y", 1)), short_r),
        "d_r taken as the number of lag-1 connections on the path (always 1)": (d_f, 1),
        "d_f and d_r swapped": (d_r, d_f),
    }


def judge_depths(got, check_close):
    for seed, out in one_per_case(got, DEPTH_CASES, "depths"):
        edges = random_architecture(seed)
        what = f"depths of a random architecture with {len(edges)} connections"
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise AssertionError(f"{what}: expected the pair (d_f, d_r), got {kind(out)}.")
        expected = np.array(ref.depths(edges))
        numbers = all(isinstance(v, (int, float, np.number)) for v in out)
        matches = [m for m, v in _depth_mistakes(edges).items()
                   if numbers and not np.array_equal(v, expected) and np.array_equal(v, np.asarray(out, dtype=float))]
        hint = ("your result matches " + " (or: ".join(matches) + ")" * (len(matches) - 1) + ".") if matches else (
            "unroll the connections over a few steps; d_f is the number of connections on the longest path from "
            "('x', t) to ('y', t), d_r the largest over states s of the longest path from (s, t) to (s, t + 1).")
        check_close(f"{what}: (d_f, d_r)", np.asarray(out), expected, ("depth (0: d_f, 1: d_r)",),
                    f"{hint} The connections: {edges}")


def judge_scale_reservoir(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "scale_reservoir"):
        W, rho = reservoir_case(seed)
        what = f"scale_reservoir of a {W.shape[0]} x {W.shape[0]} matrix to radius {rho:g}"
        if not isinstance(out, dict) or set(out) != {"returned", "W_after"}:
            raise AssertionError("scale_reservoir: the grader did not receive the results it asked for.")
        if out["returned"] is None:
            raise AssertionError(f"{what}: got None. Hint: return the rescaled matrix (a new array).")
        check_close(f"{what}: the W passed in is left unchanged", out["W_after"], W, ("row", "column"),
                    "compute and return a new array (W * factor), do not scale W in place (W *= ...).")
        eig = np.linalg.eigvals(W)
        wrong = {
            "a division by the largest singular value (the 2-norm), not by the spectral radius":
                W * rho / np.linalg.norm(W, 2),
            "a division by the largest real part of the eigenvalues, not by their largest absolute value":
                W * rho / np.max(eig.real),
            "a matrix scaled to radius 1: rho is forgotten": W / ref.spectral_radius(W),
            "W multiplied by rho without dividing by its current spectral radius": W * rho,
            "a division by the largest entry of W, not by its spectral radius": W * rho / np.abs(W).max(),
        }
        hint = diagnose(out["returned"], wrong) or ("divide W by its spectral radius, the largest absolute value "
                                                     "of its (complex) eigenvalues, then multiply by rho.")
        check_close(f"{what}: the rescaled matrix", out["returned"], ref.scale_reservoir(W, rho), ("row", "column"),
                    hint)


def judge_ridge_readout(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "ridge_readout"):
        S, Y, beta = ridge_case(seed)
        (N, F), K = S.shape, Y.shape[1]
        what = f"ridge_readout with S of shape {S.shape}, Y of shape {Y.shape}, beta = {beta:.3g}"
        try:
            W_out = np.asarray(out, dtype=float)
        except (TypeError, ValueError):
            raise AssertionError(f"{what}: expected a numpy array W_out, got {kind(out)}.") from None
        if W_out.shape == (F, K) and F != K:
            raise AssertionError(f"{what}: got shape {W_out.shape}, expected {(K, F)}. Hint: your result is "
                                 "W_out transposed: return one row per output, (K, F), so that S @ W_out.T predicts Y.")
        wrong = {
            "plain least squares: the penalty beta is missing": np.linalg.lstsq(S, Y, rcond=None)[0].T,
            "beta added to every entry of S^T S instead of its diagonal":
                np.linalg.solve(S.T @ S + beta, S.T @ Y).T,
            "a penalty of beta squared (beta^2 I instead of beta I)": ref.ridge_readout(S, Y, beta ** 2),
            "a penalty of beta / N (the mean squared error instead of the sum)": ref.ridge_readout(S, Y, beta / N),
        }
        hint = diagnose(W_out, wrong) or "W_out^T = (S^T S + beta I)^{-1} S^T Y, with I the (F, F) identity."
        check_close(f"{what}: W_out", W_out, ref.ridge_readout(S, Y, beta), ("output", "feature"), hint)


def _shape_mistakes(B, T, D, H, num_layers, depth):
    right = ref.stacked_bidirectional_dt_shapes(B, T, D, H, num_layers, depth)
    one_way = ref.stacked_bidirectional_dt_shapes(B, T, D, H, num_layers, depth)["n_params"] // 2
    reads_d = 2 * num_layers * (H * D + H * H + H + (depth - 1) * (H * H + H))
    reads_h = 2 * sum(H * (D if layer == 0 else H) + H * H + H + (depth - 1) * (H * H + H) for layer in range(num_layers))
    return {
        "output": {"the output of one direction only: the two directions' states are concatenated": (B, T, H),
                   "the two directions stacked on the batch axis": (2 * B, T, H)},
        "h_n": {"one final state per layer: each layer has two directions": (num_layers, B, H),
                "one final state per layer of size 2H: torch keeps each direction's (B, H) state apart":
                    (num_layers, B, 2 * H)},
        "W_xh": {"every layer reading D inputs: the layers above the first read the 2H outputs of both directions":
                 [(H, D)] * num_layers,
                 "the layers above the first reading H inputs: they read both directions' outputs, 2H":
                 [(H, D if layer == 0 else H) for layer in range(num_layers)]},
        "n_params": {"the parameters of one direction only": one_way,
                     "no parameters for the extra transition layers": right["n_params"]
                     - 2 * num_layers * (depth - 1) * (H * H + H),
                     "every layer reading D inputs (the layers above the first read 2H)": reads_d,
                     "the layers above the first reading H inputs (they read 2H)": reads_h},
    }


def judge_stacked_bidirectional_dt_shapes(got, check_close):
    for case, out in one_per_case(got, SHAPE_CASES, "stacked_bidirectional_dt_shapes"):
        what = "stacked_bidirectional_dt_shapes(B={}, T={}, D={}, H={}, num_layers={}, depth={})".format(*case)
        expected = ref.stacked_bidirectional_dt_shapes(*case)
        if not isinstance(out, dict) or set(out) != set(expected):
            raise AssertionError(f"{what}: expected a dict with the keys {sorted(expected)}, got "
                                 f"{sorted(out) if isinstance(out, dict) else kind(out)}.")
        mistakes = _shape_mistakes(*case)
        for key in ("output", "h_n", "W_xh", "n_params"):
            try:
                value = np.asarray(out[key])
            except (TypeError, ValueError):
                value = np.asarray(np.nan)
            wrong = {m: v for m, v in mistakes[key].items() if np.asarray(v).shape != np.asarray(expected[key]).shape
                     or not np.array_equal(v, expected[key])}
            hint = diagnose(value, wrong) or {
                "output": "the output holds both directions' states at every step: (B, T, 2H).",
                "h_n": "one final state per layer and direction, torch's layout: (2 * num_layers, B, H).",
                "W_xh": "one shape per layer: (H, D) for the first, (H, 2H) for the layers above it.",
                "n_params": "per layer and direction: H * inputs + H * H + H for the first transition layer, "
                            "H * H + H for each further one; two directions.",
            }[key]
            check_close(f"{what}: {key!r}", value, np.asarray(expected[key]), (), hint)
