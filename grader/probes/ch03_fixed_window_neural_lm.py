"""Probes for the chapter 3 exercise: seeded windows, embedding tables, window models and a Markov task."""
from collections.abc import Iterator

import numpy as np
import torch

from grader.datasets import Markov2Source
from grader.probes import fresh

SEEDS = (301, 302, 303, 304)
BOUNDARY_SEED = 304  # embed, window_lm_forward and perplexity get a batch of a single window
PARTS = {
    "embed": ("make_windows",),
    "window_lm_forward": ("make_windows", "embed"),
    "perplexity": ("make_windows", "embed", "window_lm_forward"),
    "train": ("make_windows", "embed", "window_lm_forward", "perplexity"),
}
# The training problem: windows of a second-order Markov source, full-batch Adam.
TRAIN_TASK = dict(alphabet="abcd", concentration=0.5, seed=303, n_train=4000, n_held_out=2000,
                  window=2, d=8, H=32, steps=200, lr=0.05)


def init_params(V, d, n, H, seed=0):
    """The notebook's given initialisation: leaf tensors E (V, d), W (H, n*d), b1 (H,), U (V, H), b2 (V,)."""
    g = torch.Generator().manual_seed(seed)
    params = {
        "E": torch.randn(V, d, generator=g),
        "W": torch.randn(H, n * d, generator=g) / (n * d) ** 0.5,
        "b1": torch.zeros(H),
        "U": torch.randn(V, H, generator=g) / H ** 0.5,
        "b2": torch.zeros(V),
    }
    return {k: v.requires_grad_() for k, v in params.items()}


# --- Part A: make_windows -------------------------------------------------------------

def window_cases():
    """(ids, window): random texts of random window widths, and a text of exactly one window."""
    cases = []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        window = int(rng.integers(1, 6))
        length = window + int(rng.integers(2, 12))
        cases.append((torch.from_numpy(rng.integers(0, 30, size=length)), window))
    cases.append((torch.tensor([7, 3, 9, 4]), 3))  # exactly one window
    return cases


def probe_make_windows(make_windows):
    return [make_windows(fresh(ids), window) for ids, window in window_cases()]


# --- Part B: embed --------------------------------------------------------------------

def sizes(seed):
    """Random sizes with V, d, n, H all different, so a swapped or transposed weight fails loudly."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 5))
    d = int(rng.integers(2, 5))
    H = n * d + int(rng.integers(1, 4))
    V = H + int(rng.integers(2, 5))
    N = int(rng.integers(3, 8)) if seed != BOUNDARY_SEED else 1
    return rng, V, d, n, H, N


def embed_case(seed):
    """(contexts (N, n), E (V, d) requiring grad)."""
    rng, V, d, n, H, N = sizes(seed)
    E = torch.from_numpy(rng.normal(size=(V, d))).float().requires_grad_()
    contexts = torch.from_numpy(rng.integers(0, V, size=(N, n)))
    return contexts, E


def upstream(seed, shape):
    """Seeded weights w for the scalar sum(w * embed(...)): its gradient shows how the result is connected to E."""
    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def probe_embed(embed):
    """Per seed: the embedding, and E.grad after backpropagating sum(upstream * embedding) (None: not connected)."""
    out = []
    for seed in SEEDS:
        contexts, E = embed_case(seed)
        E = fresh(E)
        got = embed(fresh(contexts), E)
        connected = isinstance(got, torch.Tensor) and bool(got.requires_grad)
        if connected:
            (got * upstream(seed, got.shape).to(got.dtype)).sum().backward()
        out.append({"embedding": got, "requires_grad": connected, "E_grad": E.grad})
    return out


# --- Part C: window_lm_forward ---------------------------------------------------------

def random_params(seed):
    """A window model with random weights and non-zero biases, and a batch of contexts."""
    rng, V, d, n, H, N = sizes(seed)
    params = init_params(V, d, n, H, seed=seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        params["W"].mul_(2.0)  # so that tanh is visibly nonlinear
        params["b1"].copy_(0.5 * torch.randn(H, generator=g))
        params["b2"].copy_(0.5 * torch.randn(V, generator=g))
    contexts = torch.from_numpy(rng.integers(0, V, size=(N, n)))
    return params, contexts


def probe_window_lm_forward(window_lm_forward):
    out = []
    for seed in SEEDS:
        params, contexts = random_params(seed)
        out.append(window_lm_forward(fresh(contexts), fresh(params)))
    return out


# --- Part D: perplexity -----------------------------------------------------------------

def perplexity_case(seed):
    """(logits (N, V), targets (N,)) of random sizes."""
    rng = np.random.default_rng(seed)
    N, V = int(rng.integers(3, 9)), int(rng.integers(3, 9))
    N = N if seed != BOUNDARY_SEED else 1
    logits = torch.from_numpy(rng.normal(scale=2.0, size=(N, V)))
    targets = torch.from_numpy(rng.integers(0, V, size=N))
    return logits, targets


def probe_perplexity(perplexity):
    return [perplexity(*map(fresh, perplexity_case(seed))) for seed in SEEDS]


# --- Part E: train ----------------------------------------------------------------------

def markov_text(alphabet, concentration, seed, n_train, n_held_out, window, **_):
    """The source and the symbol ids of its seeded sample: training windows first, then held-out ones."""
    source = Markov2Source(alphabet, concentration, seed)
    text = source.sample(n_train + n_held_out + window, seed=seed)
    return source, torch.tensor([alphabet.index(c) for c in text])


def train_data(task=TRAIN_TASK):
    """The n_train training windows (contexts, targets) at the start of the sample."""
    _, ids = markov_text(**task)
    rows = ids[:task["n_train"] + task["window"]].unfold(0, task["window"] + 1, 1)
    return rows[:, :-1], rows[:, -1]


def initial_train_params(task=TRAIN_TASK):
    return init_params(len(task["alphabet"]), task["d"], task["window"], task["H"], seed=task["seed"])


def probe_train(train):
    """The losses train returned, and the parameters it left in the dict it was given."""
    contexts, targets = train_data()
    params = initial_train_params()
    losses = train(params, fresh(contexts), fresh(targets), TRAIN_TASK["steps"], TRAIN_TASK["lr"])
    if isinstance(losses, Iterator):  # a generator trains as it is read: read it before looking at params
        losses = list(losses)
    return {"losses": losses,
            "params": {k: v.detach().clone() if isinstance(v, torch.Tensor) else v for k, v in params.items()}}
