"""Probes for the chapter 7 exercise: seeded matrices, gradients and sizes fed to the student's functions."""
import numpy as np

from grader.probes import copies

SEEDS = (701, 702, 703)
PARTS = {}  # no part calls another


def tanh_states(seed):
    """(H, W_hh): one example's states (T, n) of a tanh RNN with random inputs, and W_hh.

    The recurrent matrix is scaled by a seeded gain so that some cases grow and some shrink.
    """
    rng = np.random.default_rng(seed)
    n, T = int(rng.integers(3, 7)), int(rng.integers(6, 12))
    W_hh = rng.normal(scale=rng.uniform(0.6, 2.0) / np.sqrt(n), size=(n, n))
    inputs = rng.normal(scale=0.5, size=(T, n))
    H = np.empty((T, n))
    H[0] = np.tanh(inputs[0])
    for m in range(1, T):
        H[m] = np.tanh(W_hh @ H[m - 1] + inputs[m])
    return H, W_hh


def bound_cases(seed):
    """(W_hh, activation, span) triples: both activations, a non-symmetric W_hh, spans of 1 and more."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 7))
    W = rng.normal(scale=1.5 / np.sqrt(n), size=(n, n))
    return [(W, "tanh", int(rng.integers(2, 9))), (W, "logistic", int(rng.integers(2, 9))), (4 * W, "logistic", 1)]


def gradient_lists(seed):
    """A list of 2 or 3 gradient arrays of different shapes, like the parameters of a small RNN."""
    rng = np.random.default_rng(seed)
    shapes = [(int(rng.integers(2, 6)), int(rng.integers(2, 6))), (int(rng.integers(2, 6)),)]
    if seed % 2:
        shapes.append((int(rng.integers(2, 4)), int(rng.integers(2, 4))))
    return [rng.normal(scale=rng.uniform(0.5, 3.0), size=s) for s in shapes]


def norm_thresholds(grads):
    """One max_norm below the joint norm (clipping happens) and one above it (nothing changes)."""
    total = float(np.sqrt(sum((g ** 2).sum() for g in grads)))
    return 0.3 * total, 2.0 * total


def value_thresholds(grads):
    """A clip value that clamps some entries on both sides, and one above every entry."""
    biggest = max(float(np.abs(g).max()) for g in grads)
    return 0.4 * biggest, 2.0 * biggest


def init_sizes(seed, square=False):
    """(n_out, n_in) with n_out far from n_in, large enough for sample statistics; or n for square inits."""
    rng = np.random.default_rng(seed)
    if square:
        return int(rng.integers(16, 48))
    return int(rng.integers(200, 320)), int(rng.integers(60, 120))


def adding_sizes(seed):
    """(n, T): many sequences (for the statistics); T odd for odd seeds (unequal halves), even otherwise."""
    rng = np.random.default_rng(seed)
    T = int(rng.integers(8, 20))
    return 1000, T + (1 - T % 2 if seed % 2 else T % 2)


def baseline_targets(seed):
    rng = np.random.default_rng(seed)
    return rng.random(int(rng.integers(5, 50))) + rng.random(1)


def probe_jacobian_norms(jacobian_norms):
    return [jacobian_norms(*copies(*tanh_states(seed))) for seed in SEEDS]


def probe_gamma_lambda_bound(gamma_lambda_bound):
    return [[gamma_lambda_bound(*copies(W, activation), span) for W, activation, span in bound_cases(seed)]
            for seed in SEEDS]


def probe_clip_grad_norm(clip_grad_norm):
    """Per seed: the outputs for each max_norm of norm_thresholds."""
    return [[clip_grad_norm(copies(*gradient_lists(seed)), max_norm) for max_norm in norm_thresholds(gradient_lists(seed))]
            for seed in SEEDS]


def probe_clip_grad_value(clip_grad_value):
    return [[clip_grad_value(copies(*gradient_lists(seed)), value) for value in value_thresholds(gradient_lists(seed))]
            for seed in SEEDS]


def _twice_and_another(fn, args, seed):
    """fn(*args, rng) for the seed, again for the same seed, and for another seed."""
    return [fn(*args, np.random.default_rng(s)) for s in (seed, seed, seed + 1000)]


def probe_xavier_normal(xavier_normal):
    return [_twice_and_another(xavier_normal, init_sizes(seed), seed) for seed in SEEDS]


def probe_orthogonal(orthogonal):
    return [_twice_and_another(orthogonal, (init_sizes(seed, square=True),), seed) for seed in SEEDS]


def probe_np_rnn_init(np_rnn_init):
    return [_twice_and_another(np_rnn_init, (init_sizes(seed, square=True),), seed) for seed in SEEDS]


def probe_adding_problem(adding_problem):
    return [_twice_and_another(adding_problem, adding_sizes(seed), seed) for seed in SEEDS]


def probe_baseline_mse(baseline_mse):
    return [baseline_mse(*copies(baseline_targets(seed))) for seed in SEEDS]
