"""Probes for the chapter 10 exercise: seeded random GRU problems, aⁿbⁿ strings and predictions."""
import numpy as np

from grader.probes import copies

SEEDS = (1001, 1002, 1003, 1004)
FORCED = {1002: {"B": 1}, 1003: {"T": 1}}  # a batch of one and a sequence of one are always among the cases
PARTS = {"gru_forward": ("gru_step",), "accepts": ("anbn_example",)}  # accepts may call anbn_example
WEIGHTS = ("W_ih", "W_hh", "b_ih", "b_hh")


def random_case(seed):
    """A seeded problem of random size with D != H, so a swapped weight fails on its shape."""
    rng = np.random.default_rng(seed)
    B, T, H = (int(n) for n in rng.integers([2, 2, 2], [5, 7, 6]))
    D = H + int(rng.integers(1, 4))
    B, T = FORCED.get(seed, {}).get("B", B), FORCED.get(seed, {}).get("T", T)
    return dict(
        X=rng.normal(size=(B, T, D)),
        h0=rng.normal(scale=0.5, size=(B, H)),
        W_ih=rng.normal(scale=0.7, size=(3 * H, D)),
        W_hh=rng.normal(scale=0.7, size=(3 * H, H)),
        b_ih=rng.normal(scale=0.5, size=3 * H),
        b_hh=rng.normal(scale=0.5, size=3 * H),
    )


def step_args(seed):
    c = random_case(seed)
    return (c["X"][:, 0], c["h0"], *(c[k] for k in WEIGHTS))


def forward_args(seed, initial=True):
    c = random_case(seed)
    return (c["X"], c["h0"] if initial else None, *(c[k] for k in WEIGHTS))


ANBN_NS = (1, 2, 5, 13)


def accepts_cases():
    """(n, p_complete): predictions on aⁿbⁿ, right, wrong at one step (early, at the b's, at the end) or borderline."""
    cases = []
    for n in (1, 3, 6, 11):
        rng = np.random.default_rng(n)
        right = np.concatenate([rng.uniform(0.0, 0.45, 2 * n - 1), [rng.uniform(0.55, 1.0)]])
        cases.append((n, right))
        for t in sorted({0, n - 1, n, 2 * n - 2, 2 * n - 1}):  # one step on the wrong side of 0.5
            wrong = right.copy()
            wrong[t] = 1.0 - wrong[t]
            cases.append((n, wrong))
        edge = right.copy()
        edge[-1] = 0.5  # exactly 0.5 counts as "complete"
        cases.append((n, edge))
    cases.append((4, np.concatenate([np.full(7, 0.1), [0.9]])))
    return cases


COUNT_SIZES = ((1, 1), (2, 5), (3, 7), (10, 32), (300, 512))  # (D, H)


def probe_gru_step(gru_step):
    return [gru_step(*copies(*step_args(seed))) for seed in SEEDS]


def probe_gru_forward(gru_forward):
    return {"initial": [gru_forward(*copies(*forward_args(seed))) for seed in SEEDS],
            "zeros": gru_forward(*copies(*forward_args(SEEDS[0], initial=False)))}


def probe_anbn_example(anbn_example):
    return [anbn_example(n) for n in ANBN_NS]


def probe_accepts(accepts):
    return [accepts(p.copy(), n) for n, p in accepts_cases()]


def probe_parameter_counts(parameter_counts):
    return [parameter_counts(D, H) for D, H in COUNT_SIZES]
