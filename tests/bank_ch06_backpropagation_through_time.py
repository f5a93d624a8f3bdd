"""Realistic wrong answers to the chapter 6 exercise: each loses one part, and the feedback names why.

Each entry: the code a student might write for one solution cell, the test cell that
must fail (and only it), and words the failure message must contain.
"""
from submission_bank import Mistake

BACKWARD = '''def rnn_backward(cache):
    X, Y, h0, H, P = cache["X"], cache["Y"], cache["h0"], cache["H"], cache["P"]
    W_xh, W_hh, W_hy = cache["W_xh"], cache["W_hh"], cache["W_hy"]
    B, T, _ = X.shape
    dY = P.copy()
    for b in range(B):
        for t in range(T):
            dY[b, t, Y[b, t]] -= 1.0
{scale}
    dW_xh, dW_hh, db_h = np.zeros_like(W_xh), np.zeros_like(W_hh), np.zeros(W_hh.shape[0])
    dW_hy, db_y = np.zeros_like(W_hy), np.zeros(W_hy.shape[0])
    dh_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = h0 if t == 0 else H[:, t - 1]
        dW_hy += dY[:, t].T @ H[:, t]
        db_y += dY[:, t].sum(axis=0)
        dh = {dh}
        dz = {dz}
        dW_xh += dz.T @ X[:, t]
        dW_hh += {dW_hh}
        db_h += dz.sum(axis=0)
        dh_next = dz @ W_hh
    return {{"dW_xh": dW_xh, "dW_hh": dW_hh, "db_h": db_h, "dW_hy": dW_hy, "db_y": db_y, "dh0": dh_next}}
'''
RIGHT = dict(scale="    dY = dY / (B * T)", dh="dY[:, t] @ W_hy + dh_next", dz="(1 - H[:, t] ** 2) * dh",
             dW_hh="dz.T @ h_prev")


def backward(**change):
    return BACKWARD.format(**{**RIGHT, **change})


PRODUCT = '''def jacobian_product(H, W_hh, k, t):
    J = np.eye(W_hh.shape[0])
    for m in range(k + 1, t + 1):
        J = {}
    return J
'''
TRUNCATED = '''def truncated_bptt_grads(X, Y, h0, W_xh, W_hh, b_h, W_hy, b_y, k):
    T = X.shape[1]
    total = {{n: 0.0 for n in ("dW_xh", "dW_hh", "db_h", "dW_hy", "db_y")}}
    h = h0
    for s in range(0, T, k):
        e = min(T, s + k)
        _, cache = rnn_forward(X[:, s:e], Y[:, s:e], {start}, W_xh, W_hh, b_h, W_hy, b_y)
        g = rnn_backward(cache)
        for n in total:
            total[n] = total[n] + g[n] * {weight}
        h = cache["H"][:, -1]
    return total
'''
TRUNCATED_FULL = '''def truncated_bptt_grads(X, Y, h0, W_xh, W_hh, b_h, W_hy, b_y, k):
    _, cache = rnn_forward(X, Y, h0, W_xh, W_hh, b_h, W_hy, b_y)
    g = rnn_backward(cache)
    return {n: g[n] for n in ("dW_xh", "dW_hh", "db_h", "dW_hy", "db_y")}
'''

MISTAKES = {
    "missing_dh_next": Mistake("rnn_backward", backward(dh="dY[:, t] @ W_hy"), "test_rnn_backward",
                               "dh_next not added"),
    "tanh_slope_at_preactivation": Mistake(
        "rnn_backward", backward(dz="(1 - (X[:, t] @ W_xh.T + h_prev @ W_hh.T + cache['b_h']) ** 2) * dh"),
        "test_rnn_backward", "pre-activation"),
    "transposed_dW_hh": Mistake("rnn_backward", backward(dW_hh="h_prev.T @ dz"), "test_rnn_backward",
                                "dW_hh transposed"),
    "sum_not_mean": Mistake("rnn_backward", backward(scale=""), "test_rnn_backward", "divide by the number of positions"),
    "jacobian_transposed_W_hh": Mistake(
        "step_jacobian", "def step_jacobian(h_t, W_hh):\n    return np.diag(1 - h_t ** 2) @ W_hh.T\n",
        "test_step_jacobian", "W_hh transposed"),
    "jacobian_missing_diag": Mistake(
        "step_jacobian", "def step_jacobian(h_t, W_hh):\n    return W_hh.copy()\n",
        "test_step_jacobian", "missing diag"),
    "product_wrong_order": Mistake("jacobian_product", PRODUCT.format("J @ step_jacobian(H[m], W_hh)"),
                                   "test_jacobian_product", "wrong order"),
    "product_without_slopes": Mistake("jacobian_product", PRODUCT.format("W_hh @ J"),
                                      "test_jacobian_product", "slopes diag(1 - h_m^2) are missing"),
    "state_not_detached": Mistake("truncated_bptt_grads", TRUNCATED_FULL, "test_truncated_bptt_grads",
                                  "not detached"),
    "state_restarted_each_chunk": Mistake("truncated_bptt_grads", TRUNCATED.format(start="h0", weight="(e - s) / T"),
                                          "test_truncated_bptt_grads", "restarted from h0"),
    "chunk_means_summed": Mistake("truncated_bptt_grads", TRUNCATED.format(start="h", weight="1"),
                                  "test_truncated_bptt_grads", "weight each chunk by its length"),
}
