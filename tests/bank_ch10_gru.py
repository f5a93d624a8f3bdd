"""Realistic wrong answers to the chapter 10 exercise: each loses one part, and the feedback names why.

Each entry: the code a student might write for one solution cell, the test cell that
must fail (and only it), and words the failure message must contain.
"""
from submission_bank import Mistake

STEP = '''def gru_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    sigmoid = lambda a: 1 / (1 + np.exp(-a))
    i_r, i_z, i_n = np.split(x_t @ W_ih.T + b_ih, 3, axis=1)
    W_hr, W_hz, W_hn = np.split(W_hh, 3, axis=0)
    b_hr, b_hz, b_hn = np.split(b_hh, 3)
    {gates} = sigmoid(i_r + h_prev @ W_hr.T + b_hr), sigmoid(i_z + h_prev @ W_hz.T + b_hz)
    n_t = np.tanh(i_n + {candidate})
    return {update}
'''
RIGHT = dict(gates="r_t, z_t", candidate="r_t * (h_prev @ W_hn.T + b_hn)", update="(1 - z_t) * n_t + z_t * h_prev")

MISTAKES = {
    "reset_before_the_product": Mistake(
        "gru_step", STEP.format(**{**RIGHT, "candidate": "(r_t * h_prev) @ W_hn.T + b_hn"}), "test_gru_step",
        "the reset gate applied before the recurrent product"),
    "update_gate_roles_swapped": Mistake(
        "gru_step", STEP.format(**{**RIGHT, "update": "z_t * n_t + (1 - z_t) * h_prev"}), "test_gru_step",
        "the update gate's roles swapped"),
    "missing_reset_gate": Mistake(
        "gru_step", STEP.format(**{**RIGHT, "candidate": "h_prev @ W_hn.T + b_hn"}), "test_gru_step",
        "a missing reset gate"),
    "gates_in_z_r_order": Mistake(
        "gru_step", STEP.format(**{**RIGHT, "gates": "z_t, r_t"}), "test_gru_step", "the order z, r, n"),
    "b_hn_outside_the_reset": Mistake(
        "gru_step", STEP.format(**{**RIGHT, "candidate": "r_t * (h_prev @ W_hn.T) + b_hn"}), "test_gru_step",
        "b_hn added outside the reset gate"),
    "forward_ignores_h0": Mistake(
        "gru_forward", '''def gru_forward(X, h0, W_ih, W_hh, b_ih, b_hh):
    B, T, _ = X.shape
    h = np.zeros((B, W_hh.shape[1]))
    H = np.zeros((B, T, W_hh.shape[1]))
    for t in range(T):
        h = gru_step(X[:, t], h, W_ih, W_hh, b_ih, b_hh)
        H[:, t] = h
    return H
''', "test_gru_forward", "ignores h0"),
    "target_after_every_b": Mistake(
        "anbn_example", '''def anbn_example(n):
    X = np.array([[1.0, 0.0]] * n + [[0.0, 1.0]] * n)
    y = np.array([0.0] * n + [1.0] * n)
    return X, y
''', "test_anbn_example", "a target of 1 after every b"),
    "accepts_checks_only_the_last_step": Mistake(
        "accepts", '''def accepts(p_complete, n):
    return bool(p_complete[-1] >= 0.5)
''', "test_accepts", "the last step only"),
    "accepts_with_a_strict_threshold": Mistake(
        "accepts", '''def accepts(p_complete, n):
    target = np.zeros(2 * n)
    target[-1] = 1
    return bool(np.all((np.asarray(p_complete) > 0.5) == (target == 1)))
''', "test_accepts", "a strict > 0.5"),
    "gru_counted_with_two_blocks": Mistake(
        "parameter_counts", '''def parameter_counts(D, H):
    block = H * D + H * H + 2 * H
    return {"rnn": block, "gru": 2 * block, "lstm": 4 * block}
''', "test_parameter_counts", "two blocks for the GRU"),
}
