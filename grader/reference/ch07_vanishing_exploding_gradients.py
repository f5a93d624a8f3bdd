"""Chapter 7, "Vanishing and exploding gradients": Jacobian norms, the gamma-lambda bound,
gradient clipping, initialisers and the adding problem, in numpy.

Shapes follow chapters 4 and 6: one example's states ``H`` (T, n) with ``H[m]`` the state
h_m of a tanh RNN, ``W_hh`` (n, n); weight matrices are (n_out, n_in) as in torch.
"""
import numpy as np

from grader.datasets import adding_problem  # noqa: F401  (the graded generator is the course's one)

GAMMA = {"logistic": 0.25, "tanh": 1.0}  # the largest slope of each activation


def jacobian_norms(H, W_hh):
    """Spectral norms of dh_s/dh_0 = J_s ... J_1 for s = 0 .. T-1, J_m = diag(1 - h_m^2) W_hh (entry 0: 1)."""
    J = np.eye(W_hh.shape[0])
    norms = [1.0]
    for m in range(1, len(H)):
        J = ((1 - H[m] ** 2)[:, None] * W_hh) @ J               # later steps on the left
        norms.append(np.linalg.norm(J, 2))
    return np.array(norms)


def gamma_lambda_bound(W_hh, activation, span):
    """(gamma * sigma_max(W_hh)) ** span: the bound on ||dh_t/dh_k|| over ``span`` = t - k steps."""
    if activation not in GAMMA:
        raise ValueError(f"gamma_lambda_bound: activation must be one of {sorted(GAMMA)}, got {activation!r}")
    return float((GAMMA[activation] * np.linalg.norm(W_hh, 2)) ** span)


def clip_grad_norm(grads, max_norm):
    """Scale all arrays together so that their joint 2-norm is at most max_norm, as
    ``torch.nn.utils.clip_grad_norm_`` does; returns (clipped arrays, norm before clipping)."""
    total = float(np.sqrt(sum((np.asarray(g) ** 2).sum() for g in grads)))
    scale = min(1.0, max_norm / (total + 1e-6))
    return [np.asarray(g) * scale for g in grads], total


def clip_grad_value(grads, clip_value):
    """Clamp every entry into [-clip_value, clip_value], as ``torch.nn.utils.clip_grad_value_`` does."""
    return [np.clip(g, -clip_value, clip_value) for g in grads]


def xavier_normal(n_out, n_in, rng):
    """Glorot and Bengio (2010): N(0, 2 / (n_in + n_out)) entries, shape (n_out, n_in)."""
    return rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), size=(n_out, n_in))


def orthogonal(n, rng):
    """A random orthogonal (n, n) matrix (Saxe et al. 2014): Q of the QR of a Gaussian, signs fixed."""
    Q, R = np.linalg.qr(rng.normal(size=(n, n)))
    return Q * np.sign(np.diag(R))                             # uniform (Haar) over orthogonal matrices


def np_rnn_init(n, rng):
    """Talathi and Vartak (2015): (A + I) / lambda_max(A + I) with A = R^T R / n, R standard normal.

    Symmetric positive definite; its largest eigenvalue is 1, the others lie in (0, 1].
    """
    R = rng.normal(size=(n, n))
    A = R.T @ R / n + np.eye(n)
    return A / np.linalg.eigvalsh(A).max()


def baseline_mse(y):
    """The mean squared error of always predicting 1, the expected target of the adding problem."""
    return float(np.mean((np.asarray(y) - 1.0) ** 2))
