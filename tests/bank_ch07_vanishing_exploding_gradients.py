"""Realistic wrong answers to the chapter 7 exercise: each loses one part, and the feedback names why.

Each entry: the code a student might write for one solution cell, the test cell that
must fail (and only it), and words the failure message must contain.
"""
from submission_bank import Mistake

NORMS = '''def jacobian_norms(H, W_hh):
    J = np.eye(len(W_hh))
    out = [1.0]
    for s in range(1, len(H)):
        J = {step} @ J
        out.append({norm})
    return np.array(out)
'''
RIGHT_NORMS = dict(step="np.diag(1 - H[s] ** 2) @ W_hh", norm="np.linalg.norm(J, 2)")

BOUND = '''def gamma_lambda_bound(W_hh, activation, span):
    if activation not in ("logistic", "tanh"):
        raise ValueError(activation)
    gamma = 0.25 if activation == "logistic" else 1.0
    return float((gamma * {size}) ** span)
'''

MISTAKES = {
    "frobenius_jacobian_norm": Mistake(
        "jacobian_norms", NORMS.format(**{**RIGHT_NORMS, "norm": "np.linalg.norm(J)"}), "test_jacobian_norms",
        "the Frobenius norm"),
    "jacobian_without_slopes": Mistake(
        "jacobian_norms", NORMS.format(**{**RIGHT_NORMS, "step": "W_hh"}), "test_jacobian_norms",
        "the tanh slopes diag(1 - h_m^2) are missing"),
    "bound_with_spectral_radius": Mistake(
        "gamma_lambda_bound", BOUND.format(size="np.abs(np.linalg.eigvals(W_hh)).max()"), "test_gamma_lambda_bound",
        "the spectral radius (largest |eigenvalue|) in place of the largest singular value"),
    "clip_each_array_by_its_own_norm": Mistake(
        "clip_grad_norm", '''def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum((g ** 2).sum() for g in grads)))
    return [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads], total
''', "test_clip_grad_norm", "each array clipped by its own norm"),
    "clip_by_value_as_in_the_lecture": Mistake(
        "clip_grad_value", '''def clip_grad_value(grads, clip_value):
    out = []
    for g in grads:
        if np.linalg.norm(g) >= clip_value:
            g = np.full_like(g, clip_value)
        out.append(g)
    return out
''', "test_clip_grad_value", "the whole gradient set to the threshold"),
    "xavier_with_two_over_fan_in": Mistake(
        "xavier_normal", '''def xavier_normal(n_out, n_in, rng):
    return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))
''', "test_xavier_normal", "2 / n_in (the lecture"),
    "orthogonal_by_normalising_columns": Mistake(
        "orthogonal", '''def orthogonal(n, rng):
    G = rng.standard_normal((n, n))
    return G / np.linalg.norm(G, axis=0)
''', "test_orthogonal", "unit vectors but not orthogonal"),
    "np_rnn_without_identity": Mistake(
        "np_rnn_init", '''def np_rnn_init(n, rng):
    R = rng.standard_normal((n, n))
    A = R.T @ R / n
    return A / np.linalg.eigvalsh(A).max()
''', "test_np_rnn_init", "did you forget to add the identity"),
    "adding_markers_anywhere": Mistake(
        "adding_problem", '''def adding_problem(n, T, rng):
    values = rng.random((n, T))
    markers = np.zeros((n, T))
    for i in range(n):
        markers[i, rng.choice(T, size=2, replace=False)] = 1.0
    return np.stack([values, markers], axis=-1), (values * markers).sum(axis=1)
''', "test_adding_problem", "both are in the first half"),
}
