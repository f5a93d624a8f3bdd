"""Probes for the chapter 8 exercise: seeded (sigma_w, sigma_b) pairs, some close to the critical line."""
import numpy as np

# Earlier parts the grader supplies (correct versions) before probing a later part.
PARTS = {
    "q_map": ("gauss_hermite_normal",),
    "q_star": ("gauss_hermite_normal", "q_map"),
    "chi_1": ("gauss_hermite_normal", "q_map", "q_star"),
    "critical_sigma_w": ("gauss_hermite_normal", "q_map", "q_star", "chi_1"),
    "xi_c": ("gauss_hermite_normal", "q_map", "q_star", "chi_1", "critical_sigma_w"),
}

SEED = 808
COARSE_NODES = 7            # q_map is also called with this many nodes: the rule must follow n_nodes
SIM_WIDTH, SIM_DEPTH = 1000, 5

# Points of the critical line (sigma_b, critical sigma_w), computed once, so that the probes hold no
# solution code: the cases 0.5 % on either side of the line are placed with them.
CRITICAL_POINTS = ((0.2, 1.3041458400565138), (0.6, 1.6177885433085513))


def node_counts():
    rng = np.random.default_rng(SEED)
    return [1, 2, *(int(n) for n in rng.integers(5, 60, size=3))]


def q_cases():
    """(q, sigma_w, sigma_b): random, plus q = 4 where a rule with too few nodes is visibly wrong."""
    rng = np.random.default_rng(SEED + 1)
    cases = [(float(rng.uniform(0.05, 3.0)), float(rng.uniform(0.5, 2.0)), float(rng.uniform(0.0, 1.0)))
             for _ in range(3)]
    return cases + [(4.0, 1.3, 0.4)]


def sigma_cases():
    """(sigma_w, sigma_b): random pairs, sigma_b = 0 on both sides of sigma_w = 1, and 0.5 % off the critical line."""
    rng = np.random.default_rng(SEED + 2)
    cases = [(float(rng.uniform(0.6, 2.0)), float(rng.uniform(0.05, 1.0))) for _ in range(3)]
    cases += [(1.5, 0.0), (0.8, 0.0)]
    for sigma_b, sigma_w in CRITICAL_POINTS:
        cases += [(sigma_w * 0.995, sigma_b), (sigma_w * 1.005, sigma_b)]
    return cases


def critical_cases():
    rng = np.random.default_rng(SEED + 3)
    return [0.0, *(float(s) for s in rng.uniform(0.05, 1.0, size=3))]


def xi_cases():
    """Ordered and chaotic points, and 2 % on either side of the critical line."""
    rng = np.random.default_rng(SEED + 4)
    cases = [(float(rng.uniform(0.6, 1.2)), 0.3), (float(rng.uniform(1.8, 2.2)), float(rng.uniform(0.1, 0.5)))]
    for sigma_b, sigma_w in CRITICAL_POINTS:
        cases += [(sigma_w * 0.98, sigma_b), (sigma_w * 1.02, sigma_b)]
    return cases


def simulation_cases():
    """(x, sigma_w, sigma_b): an input with mean square 4 (so tanh(x) differs from x), ordered and chaotic."""
    rng = np.random.default_rng(SEED + 5)
    x = 2.0 * rng.standard_normal(SIM_WIDTH)
    return [(x, 0.7, 0.7), (x, 1.8, 0.9), (x, 1.3, 1.0)]


def probe_gauss_hermite_normal(gauss_hermite_normal):
    return [gauss_hermite_normal(n) for n in node_counts()]


def probe_q_map(q_map):
    return [{"default": q_map(*case), "coarse": q_map(*case, n_nodes=COARSE_NODES)} for case in q_cases()]


def probe_q_star(q_star):
    return [q_star(*case) for case in sigma_cases()]


def probe_chi_1(chi_1):
    return [chi_1(*case) for case in sigma_cases()]


def probe_critical_sigma_w(critical_sigma_w):
    return [critical_sigma_w(sigma_b) for sigma_b in critical_cases()]


def probe_xi_c(xi_c):
    return [xi_c(*case) for case in xi_cases()]


def probe_simulate_q(simulate_q):
    return [simulate_q(x.copy(), sigma_w, sigma_b, SIM_DEPTH, np.random.default_rng(SEED + 10 + i))
            for i, (x, sigma_w, sigma_b) in enumerate(simulation_cases())]
