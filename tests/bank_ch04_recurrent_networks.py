"""Realistic wrong answers to the chapter 4 exercise: each loses one part, and the feedback names why.

Each entry: the code a student might write for one solution cell, the test cell that
must fail (and only it), and words the failure message must contain.
"""
from submission_bank import Mistake

STEP = "def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n    return {}\n"
FORWARD = '''def rnn_forward(X, h0, W_xh, W_hh, b_h):
    B, T, _ = X.shape
    h = np.zeros((B, W_hh.shape[0])) if h0 is None else h0
    H = np.zeros((B, T, W_hh.shape[0]))
{body}
    return H
'''

MISTAKES = {
    "wrong_activation": Mistake(
        "rnn_step", STEP.format("1 / (1 + np.exp(-(x_t @ W_xh.T + h_prev @ W_hh.T + b_h)))"),
        "test_rnn_step", "sigmoid"),
    "transposed_recurrent_weight": Mistake(
        "rnn_step", STEP.format("np.tanh(x_t @ W_xh.T + h_prev @ W_hh + b_h)"),
        "test_rnn_step", "W_hh transposed"),
    "missing_bias": Mistake(
        "rnn_step", STEP.format("np.tanh(x_t @ W_xh.T + h_prev @ W_hh.T)"),
        "test_rnn_step", "missing bias"),
    "off_by_one_time_index": Mistake(
        "rnn_forward", FORWARD.format(body="    for t in range(T):\n        H[:, t] = h\n"
                                           "        h = rnn_step(X[:, t], h, W_xh, W_hh, b_h)"),
        "test_rnn_forward", "off by one"),
    "ignored_initial_state": Mistake(
        "rnn_forward", FORWARD.format(body="    h = np.zeros((B, W_hh.shape[0]))\n    for t in range(T):\n"
                                           "        h = rnn_step(X[:, t], h, W_xh, W_hh, b_h)\n        H[:, t] = h"),
        "test_rnn_forward", "ignores h0"),
    # right on every case but the boundary one (B = T = 1), where squeeze drops the batch and time axes
    "squeezed_states": Mistake(
        "rnn_forward", "def rnn_forward(X, h0, W_xh, W_hh, b_h):\n"
                       "    h = np.zeros((X.shape[0], W_hh.shape[0])) if h0 is None else h0\n    states = []\n"
                       "    for t in range(X.shape[1]):\n        h = rnn_step(X[:, t], h, W_xh, W_hh, b_h)\n"
                       "        states.append(h)\n    return np.squeeze(np.stack(states, axis=1))\n",
        "test_rnn_forward", "got shape (2,), expected (1, 1, 2)"),
    "first_state_for_classification": Mistake(
        "many_to_one_logits",
        "def many_to_one_logits(X, h0, W_xh, W_hh, b_h, W_hy, b_y):\n"
        "    return rnn_forward(X, h0, W_xh, W_hh, b_h)[:, 0] @ W_hy.T + b_y\n",
        "test_many_to_one_logits", "first hidden state"),
    "unstable_cross_entropy": Mistake(
        "cross_entropy",
        "def cross_entropy(logits, targets):\n"
        "    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)\n"
        "    return -np.log(p[np.arange(len(targets)), targets]).mean()\n",
        "test_cross_entropy", "subtract each row's maximum"),
    "summed_cross_entropy": Mistake(
        "cross_entropy",
        "def cross_entropy(logits, targets):\n"
        "    z = logits - logits.max(axis=1, keepdims=True)\n"
        "    return -(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))[np.arange(len(targets)), targets].sum()\n",
        "test_cross_entropy", "sum over the batch"),
}
