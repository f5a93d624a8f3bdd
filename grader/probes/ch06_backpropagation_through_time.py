"""Probes for the chapter 6 exercise: seeded random RNN problems fed to the student's backward passes."""
import numpy as np

from grader.probes import copies, numpy_only

SEEDS = (601, 602, 603)
# Earlier parts a later part may call: the student's own if they passed, else the grader's stand-ins.
PARTS = {"jacobian_product": ("step_jacobian",), "truncated_bptt_grads": ("rnn_forward", "rnn_backward")}


# B differs from case to case (drawn without replacement): one batch of a single sequence, others larger.
BATCH_SIZES = dict(zip(SEEDS, (int(b) for b in np.random.default_rng(600).choice(np.arange(1, 5), len(SEEDS),
                                                                                  replace=False))))


def random_case(seed):
    """A seeded problem of random size; D != H != C so a transposed gradient fails loudly."""
    rng = np.random.default_rng(seed)
    T, H = (int(n) for n in rng.integers([5, 2], [9, 6]))
    B = BATCH_SIZES[seed] if seed in BATCH_SIZES else int(rng.integers(1, 5))
    D, C = H + int(rng.integers(1, 4)), H + int(rng.integers(4, 6))
    return dict(
        X=rng.normal(size=(B, T, D)),
        Y=rng.integers(0, C, size=(B, T)),
        h0=rng.normal(scale=0.5, size=(B, H)),
        W_xh=rng.normal(scale=0.6, size=(H, D)),
        W_hh=rng.normal(scale=0.6, size=(H, H)),
        b_h=rng.normal(scale=0.5, size=H),
        W_hy=rng.normal(size=(C, H)),
        b_y=rng.normal(size=C),
    )


def args_of(c):
    return (c["X"], c["Y"], c["h0"], c["W_xh"], c["W_hh"], c["b_h"], c["W_hy"], c["b_y"])


def forward_cache(seed):
    """The cache of the forward pass given in the notebook's setup cell (not a graded part) on ``random_case(seed)``."""
    X, Y, h0, W_xh, W_hh, b_h, W_hy, b_y = args_of(random_case(seed))
    H = np.empty((X.shape[0], X.shape[1], W_hh.shape[0]))
    h = h0
    for t in range(X.shape[1]):
        h = np.tanh(X[:, t] @ W_xh.T + h @ W_hh.T + b_h)
        H[:, t] = h
    logits = H @ W_hy.T + b_y
    shifted = logits - logits.max(axis=2, keepdims=True)
    log_P = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    return dict(X=X, Y=Y, h0=h0, H=H, P=np.exp(log_P), W_xh=W_xh, W_hh=W_hh, b_h=b_h, W_hy=W_hy)


def product_spans(T):
    """The (k, t) pairs given to jacobian_product for a sequence of T steps (then k = t = T - 1)."""
    return (1, T - 1), (0, T - 2), (T - 3, T - 1)


def step_args(seed):
    """(h_t, W_hh): a state of the right size (a tanh of numbers from the case) and the case's W_hh."""
    c = random_case(seed)
    return np.tanh(c["X"][0, 0, : c["W_hh"].shape[0]] + c["b_h"]), c["W_hh"]


def product_args(seed):
    """(H, W_hh): one example's states (T, H) from the forward pass, and W_hh."""
    return forward_cache(seed)["H"][0], random_case(seed)["W_hh"]


@numpy_only
def probe_rnn_backward(rnn_backward):
    return [rnn_backward({k: np.array(v, copy=True) for k, v in forward_cache(seed).items()}) for seed in SEEDS]


@numpy_only
def probe_step_jacobian(step_jacobian):
    return [step_jacobian(*copies(*step_args(seed))) for seed in SEEDS]


@numpy_only
def probe_jacobian_product(jacobian_product):
    """Per seed: the outputs for each (k, t) of product_spans(T), and the output for k = t = T - 1."""
    out = []
    for seed in SEEDS:
        H, W = product_args(seed)
        T = len(H)
        spans = [jacobian_product(*copies(H, W), k, t) for k, t in product_spans(T)]
        out.append({"spans": spans, "k_equals_t": jacobian_product(*copies(H, W), T - 1, T - 1)})
    return out


def truncation_lengths(seed):
    """Chunks of 2 and of T - 1 steps, and the boundaries: 1 step per chunk, and one chunk of all T steps."""
    T = random_case(seed)["X"].shape[1]
    return 1, 2, T - 1, T


@numpy_only
def probe_truncated_bptt_grads(truncated_bptt_grads):
    """Per seed: the outputs for each k of truncation_lengths(seed)."""
    return [[truncated_bptt_grads(*copies(*args_of(random_case(seed))), k) for k in truncation_lengths(seed)]
            for seed in SEEDS]
