"""Probes for the chapter 4 exercise: seeded random RNN problems fed to the student's functions."""
import numpy as np

from grader.probes import copies, numpy_only

SEEDS = (401, 402, 403, 404)
BOUNDARY_SEED = 404  # the boundary case: a batch of one sequence of a single time step
PARTS = {"rnn_forward": ("rnn_step",), "many_to_one_logits": ("rnn_step", "rnn_forward")}
# H differs from case to case (drawn without replacement), and so D = H + 1..3 mostly does too.
HIDDEN_SIZES = dict(zip(SEEDS, (int(h) for h in np.random.default_rng(400).choice(np.arange(2, 7), len(SEEDS),
                                                                                   replace=False))))


def random_case(seed):
    """A seeded problem of random size; D != H so a swapped weight fails loudly."""
    rng = np.random.default_rng(seed)
    B, T, C = (int(n) for n in rng.integers([2, 3, 2], [5, 8, 5]))
    if seed == BOUNDARY_SEED:
        B, T = 1, 1
    H = HIDDEN_SIZES[seed] if seed in HIDDEN_SIZES else int(rng.integers(2, 6))
    D = H + int(rng.integers(1, 4))
    return dict(
        X=rng.normal(size=(B, T, D)),
        h0=rng.normal(scale=0.5, size=(B, H)),
        W_xh=rng.normal(scale=0.6, size=(H, D)),
        W_hh=rng.normal(scale=0.6, size=(H, H)),
        b_h=rng.normal(scale=0.5, size=H),
        W_hy=rng.normal(size=(C, H)),
        b_y=rng.normal(size=C),
        targets=rng.integers(0, C, size=B),
    )


def step_args(seed):
    c = random_case(seed)
    return c["X"][:, 0], c["h0"], c["W_xh"], c["W_hh"], c["b_h"]


def forward_args(seed, h0=True):
    c = random_case(seed)
    return c["X"], c["h0"] if h0 else None, c["W_xh"], c["W_hh"], c["b_h"]


def logits_args(seed):
    c = random_case(seed)
    return c["X"], c["h0"], c["W_xh"], c["W_hh"], c["b_h"], c["W_hy"], c["b_y"]


def cross_entropy_cases():
    """(seed, scale, logits, targets): ordinary logits and logits large enough to overflow np.exp."""
    cases = []
    for seed in SEEDS:
        B = len(random_case(seed)["targets"])
        rng = np.random.default_rng(seed)
        for scale in (1.0, 1000.0):
            logits = scale * rng.normal(size=(B, 4))
            cases.append((seed, scale, logits, rng.integers(0, 4, size=len(logits))))
    return cases


@numpy_only
def probe_rnn_step(rnn_step):
    return [rnn_step(*copies(*step_args(seed))) for seed in SEEDS]


@numpy_only
def probe_rnn_forward(rnn_forward):
    return {"h0": [rnn_forward(*copies(*forward_args(seed))) for seed in SEEDS],
            "no_h0": rnn_forward(*copies(*forward_args(SEEDS[0], h0=False)))}


@numpy_only
def probe_many_to_one_logits(many_to_one_logits):
    return [many_to_one_logits(*copies(*logits_args(seed))) for seed in SEEDS]


@numpy_only
def probe_cross_entropy(cross_entropy):
    return [cross_entropy(*copies(logits, targets)) for _, _, logits, targets in cross_entropy_cases()]
