"""Realistic wrong answers to the chapter 8 exercise: each loses one part, and the feedback names why.

Each entry: the code a student might write for one solution cell, the test cell that
must fail (and only it), and words the failure message must contain.
"""
from submission_bank import Mistake

RULE = '''def gauss_hermite_normal(n):
    {body}
'''
Q_MAP = '''def q_map(q, sigma_w, sigma_b, n_nodes=N_NODES):
    z, w = gauss_hermite_normal({nodes})
    return {weight} * np.sum(w * np.tanh(np.sqrt(q) * z) ** 2){bias}
'''
CHI = '''def chi_1(sigma_w, sigma_b, n_nodes=N_NODES):
    z, w = gauss_hermite_normal(n_nodes)
    u = np.sqrt(q_star(sigma_w, sigma_b, n_nodes)) * z
    return sigma_w ** 2 * np.sum(w * {slope})
'''
Q_STAR_ITERATED = '''def q_star(sigma_w, sigma_b, n_nodes=N_NODES):
    q = 1.0
    for _ in range(5):
        q = q_map(q, sigma_w, sigma_b, n_nodes)
    return q
'''
CRITICAL_SQUARED = '''def critical_sigma_w(sigma_b, n_nodes=N_NODES):
    if sigma_b == 0:
        return 1.0
    s = brentq(lambda s: chi_1(s, sigma_b, n_nodes) - 1.0, 0.5, 10.0, xtol=1e-12)
    return s ** 2
'''
XI_ORDERED_FORMULA = '''def c_map(c, sigma_w, sigma_b, n_nodes=N_NODES):
    q = q_star(sigma_w, sigma_b, n_nodes)
    z, w = gauss_hermite_normal(n_nodes)
    z1, z2 = np.meshgrid(z, z, indexing="ij")
    u1, u2 = np.sqrt(q) * z1, np.sqrt(q) * (c * z1 + np.sqrt(max(0.0, 1.0 - c * c)) * z2)
    return (sigma_w ** 2 * np.sum(np.outer(w, w) * np.tanh(u1) * np.tanh(u2)) + sigma_b ** 2) / q


def xi_c(sigma_w, sigma_b, n_nodes=N_NODES):
    return -1.0 / np.log(chi_1(sigma_w, sigma_b, n_nodes))
'''
SIMULATION = '''def simulate_q(x, sigma_w, sigma_b, depth, rng):
    N = len(x)
    qs, h = [], None
    for layer in range(depth):
        W = rng.normal(0.0, {w_std}, size=(N, N))
        b = rng.normal(0.0, sigma_b, size=N)
        h = W @ (x if layer == 0 else np.tanh(h)){bias}
        qs.append(np.mean(h ** 2))
    return np.array(qs)
'''


def q_map(nodes="n_nodes", weight="sigma_w ** 2", bias=" + sigma_b ** 2"):
    return Q_MAP.format(nodes=nodes, weight=weight, bias=bias)


MISTAKES = {
    "physicists_weights_not_normalised": Mistake(
        "gauss_hermite_normal", RULE.format(body="x, v = hermgauss(n)\n    return np.sqrt(2.0) * x, v"),
        "test_gauss_hermite_normal", "without the 1/sqrt(pi)"),
    "probabilists_rule_not_normalised": Mistake(
        "gauss_hermite_normal",
        RULE.format(body="from numpy.polynomial.hermite_e import hermegauss\n    return hermegauss(n)"),
        "test_gauss_hermite_normal", "probabilists' rule (hermegauss) without the 1/sqrt(2 pi)"),
    "sigma_w_not_squared": Mistake("q_map", q_map(weight="sigma_w"), "test_q_map",
                                   "sigma_w where the map needs sigma_w^2"),
    "missing_bias_variance": Mistake("q_map", q_map(bias=""), "test_q_map", "without the bias term sigma_b^2"),
    "too_few_nodes": Mistake("q_map", q_map(nodes="20"), "test_q_map", "a Gauss-Hermite rule with 20 nodes"),
    "q_star_few_iterations": Mistake("q_star", Q_STAR_ITERATED, "test_q_star", "iterated only 5 time(s)"),
    "phi_instead_of_dphi": Mistake("chi_1", CHI.format(slope="np.tanh(u) ** 2"), "test_chi_1",
                                   "(phi) where chi_1 needs E[tanh'(u)^2] (phi')"),
    "critical_variance_returned": Mistake("critical_sigma_w", CRITICAL_SQUARED, "test_critical_sigma_w",
                                          "the critical sigma_w^2"),
    "xi_c_chi_1_in_chaos": Mistake("xi_c", XI_ORDERED_FORMULA, "test_xi_c",
                                   "-1 / log(chi_1) in the chaotic phase"),
    "weights_not_scaled_by_width": Mistake(
        "simulate_q", SIMULATION.format(w_std="sigma_w ** 2 / np.sqrt(N)", bias=" + b"), "test_simulate_q",
        "a variance used as a standard deviation"),
}
