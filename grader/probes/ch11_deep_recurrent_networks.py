"""Probes for the chapter 11 exercise: seeded cells, architectures, reservoirs and sizes fed to the student's functions."""
import numpy as np

from grader.probes import copies

SEEDS = (1101, 1102, 1103, 1104)
FORCED_EXTRA = {1102: 0, 1103: 2}  # an Elman step (no extra layer) and two extra layers are always among the cases
PARTS = {}  # no part calls another


def dt_case(seed):
    """A deep-transition step of random size (D != H, B may be 1) with 0 to 3 extra layers."""
    rng = np.random.default_rng(seed)
    B, H = int(rng.integers(1, 5)), int(rng.integers(2, 6))
    D = H + int(rng.integers(1, 4))
    n_extra = FORCED_EXTRA.get(seed, int(rng.integers(1, 4)))
    return (rng.normal(size=(B, D)), rng.normal(scale=0.8, size=(B, H)), rng.normal(scale=0.6, size=(H, D)),
            rng.normal(scale=0.6, size=(H, H)), rng.normal(scale=0.3, size=H),
            [rng.normal(scale=0.9, size=(H, H)) for _ in range(n_extra)],
            [rng.normal(scale=0.3, size=H) for _ in range(n_extra)])


def random_architecture(seed):
    """Connections (source, target, lag) of a random deep design: deep input, stacked deep transitions with
    optional shortcuts, optional skips from the input, deep output; in a shuffled order."""
    rng = np.random.default_rng(seed)
    edges, below = [], "x"
    for k in range(int(rng.integers(0, 3))):                 # deep input-to-hidden
        edges.append((below, f"u{k + 1}", 0))
        below = f"u{k + 1}"
    for layer in range(1, int(rng.integers(1, 4)) + 1):       # stacked layers, each a deep transition
        m = int(rng.integers(1, 4))                           # tanh layers in this layer's transition
        h, chain = f"h{layer}", [f"z{layer}_{i}" for i in range(1, m)]
        first = chain[0] if chain else h
        edges += [(below, first, 0), (h, first, 1)]
        edges += list(zip(chain, chain[1:] + [h], [0] * len(chain)))
        if m > 1 and rng.random() < 0.5:
            edges.append((h, h, 1))                           # shortcut
        if layer > 1 and rng.random() < 0.5:
            edges.append(("x", first, 0))                     # the input fed to a higher layer too
        below = h
    n_out = int(rng.integers(0, 3))
    outs = [f"o{k + 1}" for k in range(n_out)] + ["y"]
    edges += list(zip([below] + outs[:-1], outs, [0] * len(outs)))
    if rng.random() < 0.5:
        edges.append(("x", "y", 0))                           # a direct input-to-output connection
    order = rng.permutation(len(edges))
    return [edges[i] for i in order]


DEPTH_CASES = tuple(SEEDS) + (1105, 1106, 1107, 1108)


def reservoir_case(seed):
    """A random non-symmetric matrix (complex eigenvalues) and a target spectral radius."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 12))
    return rng.normal(scale=rng.uniform(0.2, 3.0), size=(n, n)), float(rng.choice([0.5, 0.9, 0.95, 1.2]))


def ridge_case(seed):
    """States S (N, F), targets Y (N, K) and a penalty beta; one case has fewer rows than features."""
    rng = np.random.default_rng(seed)
    F, K = int(rng.integers(3, 8)), int(rng.integers(1, 4))
    N = F - 1 if seed == SEEDS[-1] else int(rng.integers(F + 2, 4 * F))
    return rng.normal(size=(N, F)), rng.normal(size=(N, K)), float(rng.uniform(0.1, 5.0))


SHAPE_CASES = ((2, 7, 3, 5, 1, 1), (4, 10, 6, 8, 2, 2), (1, 3, 2, 4, 3, 3), (8, 5, 10, 16, 2, 1))  # B, T, D, H, layers, depth


def probe_dt_rnn_step(dt_rnn_step):
    return [dt_rnn_step(*copies(*dt_case(seed))) for seed in SEEDS]


def probe_depths(depths):
    return [depths(random_architecture(seed)) for seed in DEPTH_CASES]


def probe_scale_reservoir(scale_reservoir):
    out = []
    for seed in SEEDS:
        W, rho = copies(*reservoir_case(seed))
        out.append({"returned": scale_reservoir(W, rho), "W_after": W})
    return out


def probe_ridge_readout(ridge_readout):
    return [ridge_readout(*copies(*ridge_case(seed))) for seed in SEEDS]


def probe_stacked_bidirectional_dt_shapes(stacked_bidirectional_dt_shapes):
    return [stacked_bidirectional_dt_shapes(*case) for case in SHAPE_CASES]
