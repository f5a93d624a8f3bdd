"""Realistic wrong answers to the chapter 11 exercise: each loses one part, and the feedback names why.

Each entry: the code a student might write for one solution cell, the test cell that
must fail (and only it), and words the failure message must contain.
"""
from submission_bank import Mistake

DT = '''def dt_rnn_step(x_t, h_prev, W_xh, W_hh, b_h, W_zz, b_z):
    z = np.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b_h)
    for W, b in zip(W_zz, b_z):
        z = {layer}
    return z
'''

MISTAKES = {
    "dt_extra_layers_read_the_input": Mistake(
        "dt_rnn_step", DT.format(layer="np.tanh(z @ W.T + x_t @ W_xh.T + b)"), "test_dt_rnn_step",
        "the input x_t fed to every layer"),
    "dt_extra_layers_read_h_prev": Mistake(
        "dt_rnn_step", DT.format(layer="np.tanh(z @ W.T + h_prev @ W_hh.T + b)"), "test_dt_rnn_step",
        "h_prev fed to every layer"),
    "dt_last_layer_linear": Mistake(
        "dt_rnn_step", '''def dt_rnn_step(x_t, h_prev, W_xh, W_hh, b_h, W_zz, b_z):
    z = np.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b_h)
    for i, (W, b) in enumerate(zip(W_zz, b_z)):
        z = z @ W.T + b
        if i < len(W_zz) - 1:
            z = np.tanh(z)
    return z
''', "test_dt_rnn_step", "no tanh on the last layer"),
    "depths_count_nodes": Mistake(
        "depths", '''def depths(connections):
    successors = {}
    for t in range(3):
        for source, target, lag in connections:
            if t + lag < 3:
                successors.setdefault((source, t), []).append((target, t + lag))

    def longest(node, goal):
        if node == goal:
            return 1
        options = [longest(nxt, goal) for nxt in successors.get(node, [])]
        options = [1 + n for n in options if n is not None]
        return max(options) if options else None

    d_f = longest(("x", 1), ("y", 1))
    loops = [longest((s, 1), (s, 2)) for s in {source for source, _, lag in connections if lag == 1}]
    return d_f, max(n for n in loops if n is not None)
''', "test_depths", "nodes counted instead of connections"),
    "depths_shortest_path": Mistake(
        "depths", '''def depths(connections):
    graph = [((a, t), (b, t + lag)) for t in range(3) for a, b, lag in connections if t + lag < 3]

    def shortest(source, target):
        frontier, seen, n = {source}, set(), 0
        while frontier and target not in frontier:
            seen |= frontier
            frontier = {b for a, b in graph if a in frontier and b not in seen}
            n += 1
        return n if frontier else None

    states = {a for a, _, lag in connections if lag == 1}
    loops = [shortest((s, 1), (s, 2)) for s in states]
    return shortest(("x", 1), ("y", 1)), max(n for n in loops if n is not None)
''', "test_depths", "the shortest path instead of the longest"),
    "reservoir_scaled_by_the_two_norm": Mistake(
        "scale_reservoir", '''def scale_reservoir(W, rho):
    return W * rho / np.linalg.norm(W, 2)
''', "test_scale_reservoir", "largest singular value"),
    "reservoir_scaled_by_the_real_part": Mistake(
        "scale_reservoir", '''def scale_reservoir(W, rho):
    return W * rho / np.max(np.linalg.eigvals(W).real)
''', "test_scale_reservoir", "largest real part"),
    "ridge_without_penalty": Mistake(
        "ridge_readout", '''def ridge_readout(S, Y, beta):
    return np.linalg.lstsq(S, Y, rcond=None)[0].T
''', "test_ridge_readout", "the penalty beta is missing"),
    "ridge_beta_on_every_entry": Mistake(
        "ridge_readout", '''def ridge_readout(S, Y, beta):
    return np.linalg.solve(S.T @ S + beta, S.T @ Y).T
''', "test_ridge_readout", "every entry of S^T S"),
    "ridge_returned_transposed": Mistake(
        "ridge_readout", '''def ridge_readout(S, Y, beta):
    return np.linalg.solve(S.T @ S + beta * np.eye(S.shape[1]), S.T @ Y)
''', "test_ridge_readout", "W_out transposed"),
    "shapes_one_direction": Mistake(
        "stacked_bidirectional_dt_shapes", '''def stacked_bidirectional_dt_shapes(B, T, D, H, num_layers, depth):
    sizes = [D] + [2 * H] * (num_layers - 1)
    count = sum(H * s + H * H + H + (depth - 1) * (H * H + H) for s in sizes)
    return {"output": (B, T, H), "h_n": (2 * num_layers, B, H), "W_xh": [(H, s) for s in sizes], "n_params": 2 * count}
''', "test_stacked_bidirectional_dt_shapes", "one direction only"),
    "shapes_every_layer_reads_d": Mistake(
        "stacked_bidirectional_dt_shapes", '''def stacked_bidirectional_dt_shapes(B, T, D, H, num_layers, depth):
    count = num_layers * (H * D + H * H + H + (depth - 1) * (H * H + H))
    return {"output": (B, T, 2 * H), "h_n": (2 * num_layers, B, H), "W_xh": [(H, D)] * num_layers,
            "n_params": 2 * count}
''', "test_stacked_bidirectional_dt_shapes", "every layer reading D inputs"),
}
