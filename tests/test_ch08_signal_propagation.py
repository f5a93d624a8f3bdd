"""The chapter 8 reference against independent oracles (adaptive quadrature, Monte Carlo, wide random
networks, finite differences); the hidden tests against the reference and each named mistake."""
import re

import numpy as np
import pytest
from scipy.integrate import quad

from grader.course import SOLUTIONS
from grader.hidden_tests import ch08_signal_propagation as hidden
from grader.hidden_tests import check_part
from grader.probes import ch08_signal_propagation as probes
from grader.reference import ch08_signal_propagation as ref
from submission_bank import setup_namespace

A = "ch08_signal_propagation"


def normal_expectation(f):
    """E[f(Z)] by adaptive quadrature: no Gauss-Hermite involved."""
    return quad(lambda z: f(z) * np.exp(-z * z / 2) / np.sqrt(2 * np.pi), -np.inf, np.inf,
                epsabs=1e-14, epsrel=1e-13, limit=400)[0]


# --- the reference against oracles ---

@pytest.mark.parametrize("n", [1, 2, 5, 17, 60])
def test_rule_is_exact_for_polynomials_below_degree_2n(n):
    z, w = ref.gauss_hermite_normal(n)
    assert np.isclose(w.sum(), 1.0, rtol=1e-13)
    for k in range(0, 2 * n, 2):           # E[z^k] = (k - 1)!! for even k; odd moments vanish
        exact = float(np.prod(np.arange(k - 1.0, 0, -2))) if k else 1.0
        assert np.isclose(np.sum(w * z ** k), exact, rtol=1e-9), k
        assert abs(np.sum(w * z ** (k + 1))) < 1e-9 * max(1.0, exact)


@pytest.mark.parametrize("q", [0.01, 0.3, 1.0, 2.5, 4.0])
def test_q_map_matches_adaptive_quadrature(q):
    expected = 1.7 ** 2 * normal_expectation(lambda z: np.tanh(np.sqrt(q) * z) ** 2) + 0.3 ** 2
    assert np.isclose(ref.q_map(q, 1.7, 0.3), expected, rtol=5e-8, atol=0)


def test_too_coarse_rule_is_visibly_wrong_at_large_q():
    """The hidden test's q = 4 case separates N_NODES from the coarse rules a student might hard-code."""
    exact = 1.3 ** 2 * normal_expectation(lambda z: np.tanh(2.0 * z) ** 2) + 0.4 ** 2
    assert abs(ref.q_map(4.0, 1.3, 0.4) / exact - 1) < 3e-8
    for n in hidden.COARSE_RULES:
        assert abs(ref.q_map(4.0, 1.3, 0.4, n) / exact - 1) > 1e-7, n


def test_q_map_matches_monte_carlo():
    z = np.random.default_rng(0).standard_normal(2_000_000)
    mc = 1.2 ** 2 * np.mean(np.tanh(np.sqrt(0.8) * z) ** 2) + 0.5 ** 2
    assert abs(mc - ref.q_map(0.8, 1.2, 0.5)) < 5 * 1.2 ** 2 * np.std(np.tanh(np.sqrt(0.8) * z) ** 2) / np.sqrt(z.size)


@pytest.mark.parametrize("sigma_w, sigma_b", [(1.2, 0.3), (2.0, 0.8), (1.5, 0.0), (0.9, 0.05)])
def test_q_star_is_the_attracting_fixed_point(sigma_w, sigma_b):
    q = ref.q_star(sigma_w, sigma_b)
    assert q > 0 and np.isclose(ref.q_map(q, sigma_w, sigma_b), q, rtol=1e-12)
    iterate = 3.0
    for _ in range(3000):
        iterate = ref.q_map(iterate, sigma_w, sigma_b)
    assert np.isclose(iterate, q, rtol=1e-9)


def test_q_star_without_bias():
    assert ref.q_star(0.8, 0.0) == 0.0 and ref.q_star(1.0, 0.0) == 0.0
    assert ref.q_star(1.2, 0.0) > 0.1


@pytest.mark.parametrize("sigma_w, sigma_b", [(1.2, 0.3), (2.0, 0.8), (1.0, 0.05)])
def test_chi_1_is_the_slope_of_the_correlation_map_at_1(sigma_w, sigma_b):
    s = np.sqrt(ref.q_star(sigma_w, sigma_b))
    oracle = sigma_w ** 2 * normal_expectation(lambda z: ref.dtanh(s * z) ** 2)
    assert np.isclose(ref.chi_1(sigma_w, sigma_b), oracle, rtol=2e-7)   # q* = 3.7 at (2.0, 0.8): near the rule's limit
    h = 1e-4                                # one-sided: c_map is defined for c <= 1
    slope = (3 * 1 - 4 * ref.c_map(1 - h, sigma_w, sigma_b) + ref.c_map(1 - 2 * h, sigma_w, sigma_b)) / (2 * h)
    assert np.isclose(slope, oracle, rtol=2e-3)


def test_chi_1_is_the_mean_squared_singular_value_of_a_wide_layer():
    """sigma_w^2 / N * sum of tanh'(h_j)^2 over the Jacobian's columns, for h drawn at q*."""
    rng = np.random.default_rng(1)
    sigma_w, sigma_b, N = 1.6, 0.4, 1500
    h = np.sqrt(ref.q_star(sigma_w, sigma_b)) * rng.standard_normal(N)
    J = rng.normal(0, sigma_w / np.sqrt(N), size=(N, N)) * ref.dtanh(h)[None, :]
    assert abs(np.sum(J ** 2) / N / ref.chi_1(sigma_w, sigma_b) - 1) < 0.02


def test_critical_line():
    assert ref.critical_sigma_w(0.0) == 1.0
    previous = 1.0
    for sigma_b in (0.1, np.sqrt(0.05), 0.5, 1.0):
        s = ref.critical_sigma_w(sigma_b)
        assert np.isclose(ref.chi_1(s, sigma_b), 1.0, atol=1e-10)
        assert ref.chi_1(0.99 * s, sigma_b) < 1 < ref.chi_1(1.01 * s, sigma_b)
    for sigma_b in (0.1, 0.3, 0.5, 1.0):
        assert ref.critical_sigma_w(sigma_b) > previous      # the line rises with the bias
        previous = ref.critical_sigma_w(sigma_b)


def test_probe_critical_points_lie_on_the_line():
    for sigma_b, sigma_w in probes.CRITICAL_POINTS:
        assert np.isclose(ref.critical_sigma_w(sigma_b), sigma_w, rtol=1e-10)


def test_c_map_matches_monte_carlo():
    rng = np.random.default_rng(2)
    sigma_w, sigma_b, c = 1.8, 0.3, 0.4
    q = ref.q_star(sigma_w, sigma_b)
    z1, z2 = rng.standard_normal((2, 1_000_000))
    u1, u2 = np.sqrt(q) * z1, np.sqrt(q) * (c * z1 + np.sqrt(1 - c * c) * z2)
    mc = (sigma_w ** 2 * np.mean(np.tanh(u1) * np.tanh(u2)) + sigma_b ** 2) / q
    assert abs(mc - ref.c_map(c, sigma_w, sigma_b)) < 3e-3
    assert np.isclose(ref.c_map(1.0, sigma_w, sigma_b), 1.0, rtol=1e-12)


@pytest.mark.parametrize("sigma_w, sigma_b", [(2.0, 0.3), (1.5, 0.1)])
def test_chaotic_fixed_point_and_slope(sigma_w, sigma_b):
    c = ref.c_star(sigma_w, sigma_b)
    assert 0 < c < 1 and np.isclose(ref.c_map(c, sigma_w, sigma_b), c, atol=1e-12)
    numeric = (ref.c_map(c + 1e-5, sigma_w, sigma_b) - ref.c_map(c - 1e-5, sigma_w, sigma_b)) / 2e-5
    assert np.isclose(ref.chi_c(sigma_w, sigma_b), numeric, rtol=1e-6)
    assert ref.chi_c(sigma_w, sigma_b) < 1          # c* attracts


def test_xi_c_is_the_decay_length_of_the_correlation_map():
    """Iterate the map from near c*: the distance shrinks by exp(-1/xi_c) per layer, on both sides of the line."""
    for sigma_w, sigma_b in [(1.0, 0.3), (2.0, 0.3)]:
        c = ref.c_star(sigma_w, sigma_b)
        start = c - 0.01
        after = start
        for _ in range(5):
            after = ref.c_map(after, sigma_w, sigma_b)
        rate = np.log(abs(after - c) / abs(start - c)) / 5
        assert np.isclose(-1 / rate, ref.xi_c(sigma_w, sigma_b), rtol=0.05)


def test_xi_c_diverges_at_the_critical_line_and_xi_q_does_not():
    s = ref.critical_sigma_w(0.3)
    xs = [ref.xi_c(s * f, 0.3) for f in (0.9, 0.99, 0.999)]
    assert xs[0] < xs[1] < xs[2] and xs[2] > 500
    assert ref.xi_q(s, 0.3) < 3


def test_chi_q_is_the_slope_of_the_length_map():
    sigma_w, sigma_b = 1.4, 0.3
    q = ref.q_star(sigma_w, sigma_b)
    numeric = (ref.q_map(q + 1e-5, sigma_w, sigma_b) - ref.q_map(q - 1e-5, sigma_w, sigma_b)) / 2e-5
    assert np.isclose(ref.chi_q(sigma_w, sigma_b), numeric, rtol=1e-6)


@pytest.mark.parametrize("sigma_w, sigma_b", [(0.7, 0.7), (1.8, 0.5)])
def test_wide_network_follows_the_q_map(sigma_w, sigma_b):
    rng = np.random.default_rng(3)
    x = 2.0 * rng.standard_normal(1500)
    measured = np.mean([ref.simulate_q(x, sigma_w, sigma_b, 6, rng) for _ in range(2)], axis=0)
    predicted = ref.q_trajectory(sigma_w ** 2 * np.mean(x ** 2) + sigma_b ** 2, sigma_w, sigma_b, 6)
    assert np.all(np.abs(measured / predicted - 1) < 0.06)


# --- the hidden tests: pass on the reference, name each catalogued mistake ---

@pytest.fixture(scope="module")
def check_close():
    return setup_namespace(SOLUTIONS, A)["check_close"]


PARTS = ("gauss_hermite_normal", "q_map", "q_star", "chi_1", "critical_sigma_w", "xi_c", "simulate_q")


def test_setup_helpers():
    ns = setup_namespace(SOLUTIONS, A)
    assert ns["N_NODES"] == ref.N_NODES
    assert np.isclose(ns["normal_expectation"](np.cos), np.exp(-0.5), rtol=1e-12)
    assert np.allclose(ns["dtanh"](np.linspace(-30, 30, 7)), ref.dtanh(np.linspace(-30, 30, 7)))


def test_hidden_tests_pass_on_the_reference(check_close, capsys):
    ns = {}
    for part in PARTS:
        check_part(A, part, getattr(ref, part), ns, check_close=check_close)
    for name in ("gauss_hermite_normal", "q_map", "q_star", "chi_1", "critical_sigma_w"):
        assert ns[name] is getattr(ref, name)
    out = capsys.readouterr().out
    expected = 2 * len(probes.node_counts()) + 2 * len(probes.q_cases()) + 2 * len(probes.sigma_cases()) \
        + len(probes.critical_cases()) + len(probes.xi_cases()) + len(probes.simulation_cases())
    assert out.count("ok:") == expected, out


def test_cases_straddle_the_critical_line():
    phases = [ref.chi_1(*case) > 1 for case in probes.sigma_cases()]
    assert any(phases) and not all(phases)
    near = [abs(ref.chi_1(*case) - 1) for case in probes.sigma_cases()]
    assert sum(d < 0.02 for d in near) >= 4


def _wrong_rule(mistake):
    return lambda n: hidden.rule_mistakes(n)[mistake]


@pytest.mark.parametrize("mistake", sorted(hidden.rule_mistakes(5)))
def test_rule_mistakes_are_named(check_close, mistake):
    with pytest.raises(AssertionError, match="your result matches " + re.escape(mistake[:25])):
        check_part(A, "gauss_hermite_normal", _wrong_rule(mistake), check_close=check_close)


Q_MAP_FLAGS = {"sigma_w where": dict(w_power=1), "sigma_b where": dict(b_power=1), "without the bias": dict(b_power=0),
               "E[tanh(sqrt(q) z)] where": dict(square_tanh=False), "tanh(q z)": dict(root=False)}


@pytest.mark.parametrize("words", sorted(Q_MAP_FLAGS))
def test_q_map_mistakes_are_named(check_close, words):
    wrong = lambda q, sw, sb, n_nodes=ref.N_NODES: hidden._q_map_variant(q, sw, sb, n_nodes, **Q_MAP_FLAGS[words])
    with pytest.raises(AssertionError, match="your result matches .*" + re.escape(words)):
        check_part(A, "q_map", wrong, check_close=check_close)


@pytest.mark.parametrize("nodes", [10, 50, 100])
def test_a_too_coarse_quadrature_is_caught_and_named(check_close, nodes):
    wrong = lambda q, sw, sb, n_nodes=ref.N_NODES: ref.q_map(q, sw, sb, nodes)
    with pytest.raises(AssertionError, match=f"a Gauss-Hermite rule with {nodes} nodes"):
        check_part(A, "q_map", wrong, check_close=check_close)


def test_a_q_map_that_ignores_n_nodes_is_named(check_close):
    wrong = lambda q, sw, sb, n_nodes=ref.N_NODES: ref.q_map(q, sw, sb)
    with pytest.raises(AssertionError, match="ignores its n_nodes argument"):
        check_part(A, "q_map", wrong, check_close=check_close)


def test_q_star_mistakes_are_named(check_close):
    def iterated(sigma_w, sigma_b, n_nodes=ref.N_NODES):
        q = 1.0
        for _ in range(3):
            q = ref.q_map(q, sigma_w, sigma_b)
        return q

    with pytest.raises(AssertionError, match=re.escape("iterated only 3 time(s)")):
        check_part(A, "q_star", iterated, check_close=check_close)
    unstable = lambda sigma_w, sigma_b, n_nodes=ref.N_NODES: 0.0 if sigma_b == 0 else ref.q_star(sigma_w, sigma_b)
    with pytest.raises(AssertionError, match="the unstable fixed point"):
        check_part(A, "q_star", unstable, check_close=check_close)


@pytest.mark.parametrize("index", range(5))
def test_chi_1_mistakes_are_named(check_close, index):
    mistake = sorted(hidden.chi_mistakes(1.3, 0.3))[index]
    wrong = lambda sigma_w, sigma_b, n_nodes=ref.N_NODES: hidden.chi_mistakes(sigma_w, sigma_b)[mistake]
    with pytest.raises(AssertionError, match="your result matches " + re.escape(mistake[:20])):
        check_part(A, "chi_1", wrong, check_close=check_close)


def test_critical_and_xi_mistakes_are_named(check_close):
    squared = lambda sigma_b, n_nodes=ref.N_NODES: ref.critical_sigma_w(sigma_b) ** 2
    with pytest.raises(AssertionError, match="the critical sigma_w\\^2"):
        check_part(A, "critical_sigma_w", squared, check_close=check_close)
    ordered_formula = lambda sigma_w, sigma_b, n_nodes=ref.N_NODES: -1 / np.log(ref.chi_1(sigma_w, sigma_b))
    with pytest.raises(AssertionError, match="in the chaotic phase: there the slope must be taken at c"):
        check_part(A, "xi_c", ordered_formula, check_close=check_close)
    no_minus = lambda sigma_w, sigma_b, n_nodes=ref.N_NODES: -ref.xi_c(sigma_w, sigma_b)
    with pytest.raises(AssertionError, match="without the minus sign"):
        check_part(A, "xi_c", no_minus, check_close=check_close)


def _simulate(w_std=None, bias=True, tanh_input=False):
    def simulate(x, sigma_w, sigma_b, depth, rng):
        N, qs, h = len(x), [], None
        for layer in range(depth):
            W = rng.normal(0, (sigma_w if w_std is None else w_std(sigma_w)) / np.sqrt(N), size=(N, N))
            b = rng.normal(0, sigma_b, size=N) if bias else 0.0
            inp = (np.tanh(x) if tanh_input else x) if layer == 0 else np.tanh(h)
            h = W @ inp + b
            qs.append(np.mean(h ** 2))
        return np.array(qs)
    return simulate


@pytest.mark.parametrize("variant, words", [(dict(bias=False), "a network without biases"),
                                            (dict(w_std=lambda s: s ** 2), "a variance used as a standard deviation"),
                                            (dict(tanh_input=True), "tanh applied to the input")])
def test_simulation_mistakes_are_named(check_close, variant, words):
    with pytest.raises(AssertionError, match=re.escape(words)):
        check_part(A, "simulate_q", _simulate(**variant), check_close=check_close)


@pytest.mark.parametrize("returned, says", [(lambda *a, **k: None, "forget to `return`"),
                                            (lambda *a, **k: np.ones(3), "must return one number")])
def test_hidden_tests_say_what_to_return(check_close, returned, says):
    with pytest.raises(AssertionError, match=says):
        check_part(A, "q_star", returned, check_close=check_close)


def test_an_independent_right_simulation_passes(check_close):
    check_part(A, "simulate_q", _simulate(), check_close=check_close)


def test_judges_reject_reports_with_too_few_results(check_close):
    for part in PARTS:
        with pytest.raises(AssertionError, match="one result per test case"):
            getattr(hidden, f"judge_{part}")([], check_close)


def test_later_parts_are_graded_on_reference_earlier_parts(check_close):
    """A wrong q_map or q_star must not cost points again in chi_1, critical_sigma_w or xi_c."""
    ns = {"q_map": lambda q, sw, sb, n_nodes=ref.N_NODES: 0.0, "q_star": lambda *a, **k: 0.0}

    def student_chi(sigma_w, sigma_b, n_nodes=ref.N_NODES):
        z, w = ns["gauss_hermite_normal"](n_nodes)
        return sigma_w ** 2 * np.sum(w * ref.dtanh(np.sqrt(ns["q_star"](sigma_w, sigma_b, n_nodes)) * z) ** 2)

    check_part(A, "chi_1", student_chi, ns, check_close=check_close)
    assert ns["q_star"] is ref.q_star and ns["q_map"] is ref.q_map


def test_every_known_mistake_changes_the_output():
    for n in probes.node_counts()[2:]:
        right = np.concatenate(ref.gauss_hermite_normal(n))
        for name, pair in hidden.rule_mistakes(n).items():
            assert not np.allclose(np.concatenate(pair), right), name
    for q, sw, sb in probes.q_cases():
        for name, value in hidden.q_map_mistakes(q, sw, sb, ref.N_NODES).items():
            if "nodes" in name and q < 4:
                continue                     # a fine enough rule agrees at small q: q = 4 is there for it
            assert not np.isclose(value, ref.q_map(q, sw, sb), rtol=1e-9, atol=1e-12), name
    for sw, sb in probes.sigma_cases():
        for name, value in hidden.chi_mistakes(sw, sb).items():
            assert not np.isclose(value, ref.chi_1(sw, sb), rtol=1e-7) or ref.q_star(sw, sb) == 0, name
