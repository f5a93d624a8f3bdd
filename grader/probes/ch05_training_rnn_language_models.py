"""Probes for the chapter 5 exercise: seeded id streams, logits, small models and stand-in models."""
import numpy as np
import torch

from grader.probes import copies

SEEDS = (501, 502, 503)
PARTS = {"train_step": ("sequence_cross_entropy",)}

SAMPLE_SCORES = np.array([2.0, 1.0, 0.0, -1.0, 0.5])  # the stand-in model's scores for the 5 ids
SAMPLE_N = 3000  # ids drawn per call
SAMPLE_TEMPERATURES = (0.5, 1.0, 2.0)  # one per seed
FEEDBACK_START, FEEDBACK_TEMPERATURE, FEEDBACK_BUMP = [3], 1.0, 3.0
REPEAT_START, REPEAT_N, REPEAT_SEED = [0], 50, 7
STATE_START, STATE_N, STATE_BUMP = [1, 4], 600, 3.0  # the stand-in whose scores depend on its state
TRAIN_SETTINGS = ((0.05, 0.5), (1e6, 0.3))  # (max_norm, lr): clipping active, then inactive
SHAPE_CASES = [(3, 5, 4, 6, 2, True), (2, 7, 3, 5, 3, True), (4, 2, 6, 3, 1, False), (1, 4, 2, 5, 2, False)]


# ---------------------------------------------------------------- make_batches
def batch_case(seed):
    """(ids, seq_len): a stream whose length is often not a multiple of seq_len."""
    rng = np.random.default_rng(seed)
    seq_len = int(rng.integers(3, 8))
    N = int(rng.integers(4, 9)) * seq_len + int(rng.integers(0, seq_len))
    return torch.from_numpy(rng.integers(0, 50, size=N)), seq_len


def batch_cases():
    """One case per seed, then the boundaries: a stream of exactly 5 windows' length (no id left for the last
    target), and one of 5 windows plus the one id that the last target needs."""
    boundary = [(torch.from_numpy(np.random.default_rng(504 + k).integers(0, 50, size=5 * 4 + k)), 4) for k in (0, 1)]
    return [batch_case(seed) for seed in SEEDS] + boundary


def probe_make_batches(make_batches):
    return [make_batches(*copies(ids), seq_len) for ids, seq_len in batch_cases()]


# ---------------------------------------------------------------- sequence_cross_entropy
def cross_entropy_cases():
    """(scale, logits, targets) for each seed: ordinary logits, then logits large enough to overflow exp."""
    cases = []
    for seed in SEEDS:
        g = torch.Generator().manual_seed(seed)
        B, T, V = (int(v) for v in torch.randint(2, 7, (3,), generator=g))
        for scale in (1.0, 1000.0):
            logits = scale * torch.randn(B, T, V, generator=g, dtype=torch.float64)
            cases.append((scale, logits, torch.randint(0, V, (B, T), generator=g)))
    return cases


def probe_sequence_cross_entropy(sequence_cross_entropy):
    return [sequence_cross_entropy(*copies(logits, targets)) for _, logits, targets in cross_entropy_cases()]


# ---------------------------------------------------------------- train_step
class CharRNN(torch.nn.Module):
    """The setup cell's model: embedding -> nn.RNN (tanh) -> linear read-out; returns (logits, h)."""

    def __init__(self, V, E, H, num_layers=1):
        super().__init__()
        self.embed = torch.nn.Embedding(V, E)
        self.rnn = torch.nn.RNN(E, H, num_layers=num_layers, batch_first=True)
        self.out = torch.nn.Linear(H, V)

    def forward(self, ids, h=None):
        states, h = self.rnn(self.embed(ids), h)
        return self.out(states), h


def small_model(seed, V=7, E=5, H=6, num_layers=1):
    torch.manual_seed(seed)
    return CharRNN(V, E, H, num_layers).double()


def flat_parameters(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def train_case(seed):
    """(inputs, targets), both (B, T) ids below 7."""
    rng = np.random.default_rng(seed)
    B, T = int(rng.integers(2, 5)), int(rng.integers(3, 7))
    return torch.from_numpy(rng.integers(0, 7, size=(B, T))), torch.from_numpy(rng.integers(0, 7, size=(B, T)))


def probe_train_step(train_step):
    """Per seed and setting: the parameters after two train_step calls, and the two returned losses."""
    out = []
    for seed in SEEDS:
        x, y = train_case(seed)
        for max_norm, lr in TRAIN_SETTINGS:
            model = small_model(seed)
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            losses = [train_step(model, opt, *copies(x, y), max_norm) for _ in range(2)]
            out.append({"parameters": flat_parameters(model), "losses": losses})
    return out


# ---------------------------------------------------------------- sample
class FixedModel(torch.nn.Module):
    """A stand-in language model: logits = c + bump * onehot((last id + 1) mod V), whatever the state."""

    def __init__(self, c, bump):
        super().__init__()
        self.c, self.bump = torch.as_tensor(c, dtype=torch.float32), bump

    def forward(self, ids, h=None):
        V = len(self.c)
        logits = self.c + self.bump * torch.nn.functional.one_hot((ids + 1) % V, V).float()
        return logits, (torch.zeros(1, ids.shape[0], 1) if h is None else h + ids.shape[1])


class CountingModel(torch.nn.Module):
    """A stand-in whose state counts the ids it has read: logits = c + bump * onehot(count mod V).

    Only a sampler that passes the returned state back in (or re-reads every id so far) sees the
    count grow; one that drops it sees the count restart at every call.
    """

    def __init__(self, c, bump):
        super().__init__()
        self.c, self.bump = torch.as_tensor(c, dtype=torch.float32), bump

    def forward(self, ids, h=None):
        B, T = ids.shape
        before = torch.zeros(1, B, 1) if h is None else h
        count = before[0, :, :1].long() + torch.arange(1, T + 1)  # (B, T): ids read up to each position
        logits = self.c + self.bump * torch.nn.functional.one_hot(count % len(self.c), len(self.c)).float()
        return logits, before + T


def _ids(out):
    """What sample returned; a one-shot iterator (e.g. a generator) is read into a list so it can be sent."""
    if isinstance(out, (list, tuple, np.ndarray, torch.Tensor)) or not hasattr(out, "__next__"):
        return out
    return list(out)


def probe_sample(sample):
    def run(bump, start, n, temperature, seed):
        return _ids(sample(FixedModel(SAMPLE_SCORES, bump), list(start), n, temperature,
                           torch.Generator().manual_seed(seed)))

    return {
        "frequencies": [run(0.0, [0, 1], SAMPLE_N, T, seed) for seed, T in zip(SEEDS, SAMPLE_TEMPERATURES)],
        "feedback": run(FEEDBACK_BUMP, FEEDBACK_START, SAMPLE_N, FEEDBACK_TEMPERATURE, SEEDS[0]),
        "repeat": [run(0.0, REPEAT_START, REPEAT_N, 1.0, REPEAT_SEED) for _ in range(2)],
        "state": _ids(sample(CountingModel(SAMPLE_SCORES, STATE_BUMP), list(STATE_START), STATE_N, 1.0,
                             torch.Generator().manual_seed(SEEDS[1]))),
    }


# ---------------------------------------------------------------- rnn_output_shapes
def probe_rnn_output_shapes(rnn_output_shapes):
    return [rnn_output_shapes(*case) for case in SHAPE_CASES]
