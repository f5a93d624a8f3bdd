"""Probes for the chapter 9 exercise: seeded random LSTM problems fed to the student's functions."""
import numpy as np

from grader.probes import copies

SEEDS = (901, 902, 903, 904)
FORCED = {902: {"B": 1}, 903: {"T": 1}}  # a batch of one and a sequence of one are always among the cases
PARTS = {"lstm_forward": ("lstm_step",)}


def random_case(seed):
    """A seeded problem of random size with D != H, so a swapped weight fails on its shape."""
    rng = np.random.default_rng(seed)
    B, T, H = (int(n) for n in rng.integers([2, 2, 2], [5, 7, 6]))
    D = H + int(rng.integers(1, 4))
    B, T = FORCED.get(seed, {}).get("B", B), FORCED.get(seed, {}).get("T", T)
    return dict(
        X=rng.normal(size=(B, T, D)),
        h0=rng.normal(scale=0.5, size=(B, H)),
        c0=rng.normal(scale=1.0, size=(B, H)),
        W_ih=rng.normal(scale=0.5, size=(4 * H, D)),
        W_hh=rng.normal(scale=0.5, size=(4 * H, H)),
        b_ih=rng.normal(scale=0.5, size=4 * H),
        b_hh=rng.normal(scale=0.5, size=4 * H),
    )


WEIGHTS = ("W_ih", "W_hh", "b_ih", "b_hh")


def step_args(seed):
    c = random_case(seed)
    return (c["X"][:, 0], c["h0"], c["c0"], *(c[k] for k in WEIGHTS))


def forward_args(seed, initial=True):
    c = random_case(seed)
    return (c["X"], c["h0"] if initial else None, c["c0"] if initial else None, *(c[k] for k in WEIGHTS))


def bias_cases():
    """(seed, b_ih, b_hh, value): random biases of random sizes and a forget bias to set."""
    out = []
    for seed in SEEDS:
        c = random_case(seed)
        out.append((seed, c["b_ih"], c["b_hh"], float(np.random.default_rng(seed).choice([1.0, 2.0, 3.0]))))
    return out


COUNT_SIZES = ((2, 5), (3, 7), (10, 32), (128, 64), (300, 512))  # (D, H)


def probe_lstm_step(lstm_step):
    return [lstm_step(*copies(*step_args(seed))) for seed in SEEDS]


def probe_lstm_forward(lstm_forward):
    return {"initial": [lstm_forward(*copies(*forward_args(seed))) for seed in SEEDS],
            "zeros": lstm_forward(*copies(*forward_args(SEEDS[0], initial=False)))}


def probe_init_forget_bias(init_forget_bias):
    out = []
    for _, b_ih, b_hh, value in bias_cases():
        b_ih, b_hh = copies(b_ih, b_hh)
        returned = init_forget_bias(b_ih, b_hh, value)
        out.append({"returned": returned, "b_ih_after": b_ih, "b_hh_after": b_hh})
    return out


def probe_lstm_parameter_count(lstm_parameter_count):
    return [lstm_parameter_count(D, H) for D, H in COUNT_SIZES]
