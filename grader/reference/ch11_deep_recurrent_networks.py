"""Chapter 11, "Deeper recurrent architectures": a deep-transition step, depths, an echo state network's parts.

Rows are batch items, as in torch: ``x_t`` is (B, D), ``h_prev`` is (B, H). A deep-transition step
applies ``1 + len(W_zz)`` tanh layers between ``h_{t-1}`` and ``h_t``; only the first reads the input.
An architecture for ``depths`` is a list of connections ``(source, target, lag)``: lag 0 joins two nodes of
the same step, lag 1 joins a node at step t to a node at step t + 1. The input node is ``"x"``, the output
node ``"y"``.
"""
import numpy as np


def dt_rnn_step(x_t, h_prev, W_xh, W_hh, b_h, W_zz, b_z):
    """One deep-transition step: ``h_t`` (B, H).

    z_1 = tanh(x_t W_xh^T + h_prev W_hh^T + b_h), z_l = tanh(z_{l-1} W_zz[l-2]^T + b_z[l-2]) for the
    layers that follow, and h_t is the last z. With empty ``W_zz`` it is the Elman step.
    """
    z = np.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b_h)
    for W, b in zip(W_zz, b_z, strict=True):
        z = np.tanh(z @ W.T + b)
    return z


def _check_edges(edges):
    """Each connection is (source, target, lag 0 or 1), and the connections within a step have no cycle."""
    for edge in edges:
        if len(edge) != 3 or edge[2] not in (0, 1):
            raise ValueError(f"depths: each connection is (source, target, lag) with lag 0 or 1, got {edge!r}")
    within = [(a, b) for a, b, lag in edges if lag == 0]
    remaining = {n for edge in within for n in edge}
    while remaining:  # peel off nodes without incoming connections (Kahn); what is left lies on a cycle
        sources = {n for n in remaining if not any(b == n and a in remaining for a, b in within)}
        if not sources:
            raise ValueError(f"depths: the connections within one step form a cycle through {sorted(remaining)}")
        remaining -= sources


def unrolled(edges, n_steps):
    """The connections of the architecture unrolled over ``n_steps``: nodes become (name, t)."""
    _check_edges(edges)
    return [((a, t), (b, t + lag)) for t in range(n_steps) for a, b, lag in edges if t + lag < n_steps]


def longest_path(edges, source, target):
    """Connections on the longest path from ``source`` to ``target`` of an acyclic graph; None if none."""
    reachable_from = {}
    for a, b in edges:
        reachable_from.setdefault(a, []).append(b)

    memo = {}  # node -> longest length to target (a plain dict: decorator lines are in every library)

    def longest_from(node):
        if node not in memo:
            lengths = [] if node == target else [longest_from(n) for n in reachable_from.get(node, [])]
            memo[node] = 0 if node == target else max((1 + n for n in lengths if n is not None), default=None)
        return memo[node]
    return longest_from(source)


def depths(edges):
    """``(d_f, d_r)``: the longest path from x_t to y_t, and the longest from a state to itself one step later.

    d_r is the largest such length over the nodes that have a path back to themselves at the next step.
    """
    graph = unrolled(edges, 3)
    d_f = longest_path(graph, ("x", 1), ("y", 1))
    states = sorted({a for a, _, lag in edges if lag == 1})
    loops = [longest_path(graph, (s, 1), (s, 2)) for s in states]
    loops = [n for n in loops if n is not None]
    if d_f is None or not loops:
        raise ValueError("depths: no path from x to y within a step, or no state that reaches itself at the next step")
    return int(d_f), int(max(loops))


def spectral_radius(W):
    """The largest absolute eigenvalue of a square matrix."""
    return float(np.abs(np.linalg.eigvals(W)).max())


def scale_reservoir(W, rho):
    """``W`` rescaled (a new array) so that its spectral radius is ``rho``."""
    return W * (rho / spectral_radius(W))


def ridge_readout(S, Y, beta):
    """``W_out`` (K, F) minimising ||S W_out^T - Y||^2 + beta ||W_out||^2, for states S (N, F), targets Y (N, K)."""
    F = S.shape[1]
    return np.linalg.solve(S.T @ S + beta * np.eye(F), S.T @ Y).T


def stacked_bidirectional_dt_shapes(B, T, D, H, num_layers, depth):
    """Shapes and parameter count of a stacked bidirectional deep-transition RNN (batch first).

    Each layer has a forward and a backward deep-transition cell of ``depth`` tanh layers; layer 1 reads D
    inputs, every later layer the 2H outputs of both directions below it.
    """
    W_xh = [(H, D if layer == 0 else 2 * H) for layer in range(num_layers)]
    per_direction = sum(H * d_in + H * H + H + (depth - 1) * (H * H + H) for _, d_in in W_xh)
    return {"output": (B, T, 2 * H), "h_n": (2 * num_layers, B, H), "W_xh": W_xh, "n_params": 2 * per_direction}
