"""Chapter 9, "Long short-term memory": the LSTM layer of ``torch.nn.LSTM`` in numpy.

Shapes follow ``torch.nn.LSTM(batch_first=True)``: ``X`` is (B, T, D), ``x_t`` is (B, D),
``h_prev``, ``c_prev``, ``h0`` and ``c0`` are (B, H). The four gates are stacked in torch's
order i, f, g, o: ``W_ih`` is (4H, D), ``W_hh`` is (4H, H), and there are two bias vectors
``b_ih`` and ``b_hh`` of shape (4H,), which are simply added.
"""
import numpy as np

GATES = ("i", "f", "g", "o")  # torch's order of the four blocks of rows in W_ih, W_hh, b_ih, b_hh


def sigmoid(a):
    """The logistic function, without overflow warnings for large negative ``a``."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    """One LSTM step: ``(h_t, c_t)``, each (B, H).

    i, f, o are sigmoid gates, g the tanh candidate; c_t = f_t * c_prev + i_t * g_t and
    h_t = o_t * tanh(c_t).
    """
    z = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh
    a_i, a_f, a_g, a_o = np.split(z, 4, axis=1)
    c_t = sigmoid(a_f) * c_prev + sigmoid(a_i) * np.tanh(a_g)
    return sigmoid(a_o) * np.tanh(c_t), c_t


def lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    """Every hidden and cell state: ``(H, C)``, each (B, T, H); ``H[:, t]`` is after reading ``X[:, t]``.

    ``h0=None`` or ``c0=None`` means zeros, as in torch.
    """
    B, T, _ = X.shape
    n = W_hh.shape[1]
    h = np.zeros((B, n)) if h0 is None else h0
    c = np.zeros((B, n)) if c0 is None else c0
    H, C = np.empty((B, T, n)), np.empty((B, T, n))
    for t in range(T):
        h, c = lstm_step(X[:, t], h, c, W_ih, W_hh, b_ih, b_hh)
        H[:, t], C[:, t] = h, c
    return H, C


def init_forget_bias(b_ih, b_hh, value):
    """New copies of the two bias vectors whose forget-gate block sums to ``value``.

    torch adds ``b_ih`` and ``b_hh``, so the forget block of ``b_ih`` is set to ``value``
    and that of ``b_hh`` to 0; the other gates' biases are left as they were.
    """
    n = len(b_ih) // 4
    b_ih, b_hh = np.array(b_ih, dtype=float), np.array(b_hh, dtype=float)
    b_ih[n:2 * n], b_hh[n:2 * n] = value, 0.0
    return b_ih, b_hh


def lstm_parameter_count(D, H):
    """Parameters of one ``torch.nn.LSTM(D, H)`` layer: four gates, each with W_ih, W_hh and two biases."""
    return 4 * H * (D + H + 2)
