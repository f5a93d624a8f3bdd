"""Chapter 4, "Recurrent networks": the Elman RNN forward pass in numpy.

Shapes follow ``torch.nn.RNN(batch_first=True)``: ``X`` is (B, T, D), ``x_t`` is
(B, D), ``h_prev`` and ``h0`` are (B, H), ``W_xh`` is (H, D), ``W_hh`` is (H, H),
``b_h`` is (H,), ``W_hy`` is (C, H), ``b_y`` is (C,). Rows are batch items, so the
book's column-vector ``W_xh @ x_t`` becomes ``x_t @ W_xh.T``.
"""
import numpy as np


def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):
    """One step of the recurrence h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)."""
    return np.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b_h)


def rnn_forward(X, h0, W_xh, W_hh, b_h):
    """Every hidden state: ``H[:, t]`` is the state after reading ``X[:, t]``.

    ``h0=None`` means a zero initial state, as in torch.
    """
    B, T, _ = X.shape
    h = np.zeros((B, W_hh.shape[0])) if h0 is None else h0
    H = np.empty((B, T, W_hh.shape[0]))
    for t in range(T):
        h = rnn_step(X[:, t], h, W_xh, W_hh, b_h)
        H[:, t] = h
    return H


def many_to_one_logits(X, h0, W_xh, W_hh, b_h, W_hy, b_y):
    """Class scores (B, C) read from the last hidden state only (a many-to-one task)."""
    return rnn_forward(X, h0, W_xh, W_hh, b_h)[:, -1] @ W_hy.T + b_y


def log_softmax(logits):
    """Row-wise log-probabilities, stable for large logits (log-sum-exp trick)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(logits, targets):
    """Mean negative log-likelihood (nats) of integer ``targets`` (B,) under ``logits`` (B, C)."""
    return -log_softmax(logits)[np.arange(len(targets)), targets].mean()
