"""Chapter 6, "Backpropagation through time": the backward pass of a many-to-many tanh RNN in numpy.

Shapes as in chapter 4: ``X`` (B, T, D), ``Y`` (B, T) integer targets, ``h0`` (B, H),
``W_xh`` (H, D), ``W_hh`` (H, H), ``b_h`` (H,), ``W_hy`` (C, H), ``b_y`` (C,). Rows are
batch items. The loss is the mean over all B*T positions of the softmax cross-entropy.
"""
import numpy as np

GRAD_NAMES = ("dW_xh", "dW_hh", "db_h", "dW_hy", "db_y", "dh0")


def rnn_forward(X, Y, h0, W_xh, W_hh, b_h, W_hy, b_y):
    """Mean cross-entropy of a many-to-many RNN and the cache the backward pass needs."""
    B, T, _ = X.shape
    H = np.empty((B, T, W_hh.shape[0]))
    h = h0
    for t in range(T):
        h = np.tanh(X[:, t] @ W_xh.T + h @ W_hh.T + b_h)
        H[:, t] = h
    logits = H @ W_hy.T + b_y                                   # (B, T, C)
    shifted = logits - logits.max(axis=2, keepdims=True)
    log_P = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    loss = -np.take_along_axis(log_P, Y[..., None], axis=2).mean()
    cache = dict(X=X, Y=Y, h0=h0, H=H, P=np.exp(log_P), W_xh=W_xh, W_hh=W_hh, b_h=b_h, W_hy=W_hy)
    return loss, cache


def rnn_backward(cache):
    """Every gradient of the mean loss: dW_xh, dW_hh, db_h, dW_hy, db_y and dh0 (a dict)."""
    X, Y, h0, H, P = cache["X"], cache["Y"], cache["h0"], cache["H"], cache["P"]
    W_hh, W_hy = cache["W_hh"], cache["W_hy"]
    B, T, _ = X.shape
    dY = P.copy()                                              # dL/dlogits = (p - onehot) / (B T)
    np.put_along_axis(dY, Y[..., None], np.take_along_axis(dY, Y[..., None], axis=2) - 1, axis=2)
    dY /= B * T
    g = dict(dW_xh=np.zeros_like(cache["W_xh"]), dW_hh=np.zeros_like(W_hh), db_h=np.zeros(W_hh.shape[0]),
             dW_hy=np.einsum("btc,bth->ch", dY, H), db_y=dY.sum(axis=(0, 1)))
    dh_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = H[:, t - 1] if t > 0 else h0
        dh = dY[:, t] @ W_hy + dh_next                          # explicit + implicit part
        dz = (1 - H[:, t] ** 2) * dh                            # through tanh, at the state h_t
        g["dW_xh"] += dz.T @ X[:, t]
        g["dW_hh"] += dz.T @ h_prev
        g["db_h"] += dz.sum(axis=0)
        dh_next = dz @ W_hh
    g["dh0"] = dh_next
    return g


def step_jacobian(h_t, W_hh):
    """dh_t/dh_{t-1} for one example: entry [i, j] = (1 - h_t[i]^2) W_hh[i, j]."""
    return (1 - h_t ** 2)[:, None] * W_hh


def jacobian_product(H, W_hh, k, t):
    """dh_t/dh_k = J_t J_{t-1} ... J_{k+1} for one example's states H (T, H_size); identity if t == k."""
    J = np.eye(W_hh.shape[0])
    for m in range(k + 1, t + 1):
        J = step_jacobian(H[m], W_hh) @ J                      # later steps on the left
    return J


def truncated_bptt_grads(X, Y, h0, W_xh, W_hh, b_h, W_hy, b_y, k):
    """Gradients of the mean loss over all B*T positions with BPTT cut every k steps.

    The state is carried from chunk to chunk but treated as a constant (detached) at each
    chunk boundary, so no gradient crosses one. With k >= T this is full BPTT (without dh0).
    """
    T = X.shape[1]
    total = {n: 0.0 for n in GRAD_NAMES[:-1]}
    h = h0
    for start in range(0, T, k):
        stop = min(start + k, T)
        _, cache = rnn_forward(X[:, start:stop], Y[:, start:stop], h, W_xh, W_hh, b_h, W_hy, b_y)
        g = rnn_backward(cache)
        for n in total:
            total[n] = total[n] + g[n] * (stop - start) / T
        h = cache["H"][:, -1]
    return total


def clip_by_global_norm(grads, max_norm):
    """Scale every gradient by min(1, max_norm / global norm)."""
    norm = np.sqrt(sum((g ** 2).sum() for g in grads.values()))
    return {n: g * min(1.0, max_norm / (norm + 1e-12)) for n, g in grads.items()}
