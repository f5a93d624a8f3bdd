"""Realistic wrong answers to the chapter 9 exercise: each loses one part, and the feedback names why.

Each entry: the code a student might write for one solution cell, the test cell that
must fail (and only it), and words the failure message must contain.
"""
from submission_bank import Mistake

STEP = '''def lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh
    {split} = np.split(a, 4, axis=1)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))
    c_t = {cell}
    return {hidden}, c_t
'''
RIGHT = dict(split="a_i, a_f, a_g, a_o", cell="sigmoid(a_f) * c_prev + sigmoid(a_i) * np.tanh(a_g)",
             hidden="sigmoid(a_o) * np.tanh(c_t)")

MISTAKES = {
    "gates_in_i_f_o_g_order": Mistake(
        "lstm_step", STEP.format(**{**RIGHT, "split": "a_i, a_f, a_o, a_g"}), "test_lstm_step",
        "the order i, f, o, g"),
    "output_gate_inside_tanh": Mistake(
        "lstm_step", STEP.format(**{**RIGHT, "hidden": "np.tanh(sigmoid(a_o) * c_t)"}), "test_lstm_step",
        "the output gate applied before the tanh of the cell"),
    "cell_updated_from_h": Mistake(
        "lstm_step", STEP.format(**{**RIGHT, "cell": "sigmoid(a_f) * h_prev + sigmoid(a_i) * np.tanh(a_g)"}),
        "test_lstm_step", "updated from h_prev instead of c_prev"),
    "no_forget_gate": Mistake(
        "lstm_step", STEP.format(**{**RIGHT, "cell": "c_prev + sigmoid(a_i) * np.tanh(a_g)"}), "test_lstm_step",
        "a forgotten forget gate"),
    "forward_ignores_c0": Mistake(
        "lstm_forward", '''def lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    B, T, _ = X.shape
    n = W_hh.shape[1]
    h = np.zeros((B, n)) if h0 is None else h0
    c = np.zeros((B, n))
    H, C = np.zeros((B, T, n)), np.zeros((B, T, n))
    for t in range(T):
        h, c = lstm_step(X[:, t], h, c, W_ih, W_hh, b_ih, b_hh)
        H[:, t], C[:, t] = h, c
    return H, C
''', "test_lstm_forward", "ignores c0"),
    "forget_bias_on_both_vectors": Mistake(
        "init_forget_bias", '''def init_forget_bias(b_ih, b_hh, value):
    n = len(b_ih) // 4
    b_ih, b_hh = b_ih.copy(), b_hh.copy()
    b_ih[n:2 * n] = value
    b_hh[n:2 * n] = value
    return b_ih, b_hh
''', "test_init_forget_bias", "torch adds them"),
    "parameter_count_with_one_bias": Mistake(
        "lstm_parameter_count", '''def lstm_parameter_count(D, H):
    return 4 * (H * D + H * H + H)
''', "test_lstm_parameter_count", "one bias vector per gate"),
}
