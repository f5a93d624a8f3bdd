"""Chapter 10, "The GRU, and gated cells compared": the GRU layer of ``torch.nn.GRU`` in numpy, the aⁿbⁿ task.

Shapes follow ``torch.nn.GRU(batch_first=True)``: ``X`` is (B, T, D), ``x_t`` is (B, D), ``h_prev``
and ``h0`` are (B, H). The three blocks are stacked in torch's order r, z, n: ``W_ih`` is (3H, D),
``W_hh`` is (3H, H), and the two bias vectors ``b_ih``, ``b_hh`` are (3H,). Unlike the LSTM's, they
are not simply added: the reset gate multiplies the recurrent product *with* its bias ``b_hn``.
"""
import numpy as np

BLOCKS = ("r", "z", "n")  # torch's order of the three blocks of rows in W_ih, W_hh, b_ih, b_hh
SYMBOLS = ("a", "b")      # the one-hot columns of an aⁿbⁿ string


def sigmoid(a):
    """The logistic function, without overflow warnings for large negative ``a``."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def gru_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    """One GRU step in torch's convention: ``h_t`` (B, H).

    r_t = σ(W_ir x_t + b_ir + W_hr h_prev + b_hr), z_t likewise with the z blocks,
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_prev + b_hn)), h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_prev.
    """
    i_r, i_z, i_n = np.split(x_t @ W_ih.T + b_ih, 3, axis=1)
    h_r, h_z, h_n = np.split(h_prev @ W_hh.T + b_hh, 3, axis=1)
    r_t, z_t = sigmoid(i_r + h_r), sigmoid(i_z + h_z)
    n_t = np.tanh(i_n + r_t * h_n)
    return (1.0 - z_t) * n_t + z_t * h_prev


def gru_forward(X, h0, W_ih, W_hh, b_ih, b_hh):
    """Every hidden state (B, T, H); ``H[:, t]`` is after reading ``X[:, t]``; ``h0=None`` means zeros."""
    B, T, _ = X.shape
    n = W_hh.shape[1]
    h = np.zeros((B, n)) if h0 is None else h0
    H = np.empty((B, T, n))
    for t in range(T):
        h = gru_step(X[:, t], h, W_ih, W_hh, b_ih, b_hh)
        H[:, t] = h
    return H


def anbn_example(n):
    """The string aⁿbⁿ as one-hot inputs ``X`` (2n, 2) (columns a, b) and targets ``y`` (2n,).

    ``y[t]`` is 1 when the prefix read so far, ``x_0 … x_t``, is itself a complete aᵏbᵏ, i.e. only at
    the last step: a network that predicts ``y`` at every step must count the a's and match the b's.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"anbn_example: n must be a positive integer, got {n!r}")
    X = np.zeros((2 * n, 2))
    X[:n, 0], X[n:, 1] = 1.0, 1.0
    y = np.zeros(2 * n)
    y[-1] = 1.0
    return X, y


def accepts(p_complete, n):
    """True when the predictions ``p_complete`` (2n,) on aⁿbⁿ are right at every step.

    A step's prediction is "complete" when its probability is at least 0.5; the string is accepted
    when that matches ``anbn_example(n)``'s target at all 2n steps, the early b's included.
    """
    p = np.asarray(p_complete, dtype=float)
    if p.shape != (2 * n,):
        raise ValueError(f"accepts: expected {2 * n} probabilities for n = {n}, got shape {p.shape}")
    return bool(np.all((p >= 0.5) == (anbn_example(n)[1] == 1.0)))


def parameter_counts(D, H):
    """Parameters of one layer of ``torch.nn.RNN``, ``GRU`` and ``LSTM`` with input D and hidden H.

    Each block (one for the RNN, r, z, n for the GRU, i, f, g, o for the LSTM) has an input
    matrix (H, D), a recurrent matrix (H, H) and two bias vectors (H,).
    """
    block = H * (D + H + 2)
    return {"rnn": block, "gru": 3 * block, "lstm": 4 * block}
