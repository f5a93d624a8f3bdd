"""Hidden tests for the chapter 8 exercise: the mean-field maps of a wide random tanh network."""
import numpy as np
from numpy.polynomial.hermite import hermgauss
from numpy.polynomial.hermite_e import hermegauss

from grader.hidden_tests import diagnose, kind, one_per_case
from grader.probes.ch08_signal_propagation import (COARSE_NODES, SIM_DEPTH, critical_cases, node_counts,
                                                   q_cases, sigma_cases, simulation_cases, xi_cases)
from grader.reference import ch08_signal_propagation as ref

COARSE_RULES = (3, 5, 7, 10, 15, 20, 30, 50, 100)   # rules a student might hard-code instead of n_nodes
TOLERANCE = 0.22  # of simulate_q against the q-map, per layer


def _as_float(value, what):
    if value is None:
        raise AssertionError(f"{what} returned None - did you forget to `return` the result?")
    try:
        return float(np.asarray(value, dtype=float).reshape(()))
    except (TypeError, ValueError):
        raise AssertionError(f"{what} must return one number; got {kind(value)}.") from None


def rule_mistakes(n):
    x, w = hermgauss(n)
    xe, we = hermegauss(n)
    return {
        "the physicists' rule with its nodes not scaled by sqrt(2) (z = sqrt(2) x)": (x, w / np.sqrt(np.pi)),
        "the physicists' rule without the 1/sqrt(pi) on its weights (they must sum to 1)": (np.sqrt(2) * x, w),
        "the probabilists' rule (hermegauss) without the 1/sqrt(2 pi) on its weights (they must sum to 1)": (xe, we),
        "the physicists' weights divided by sqrt(2 pi) instead of sqrt(pi)": (np.sqrt(2) * x, w / np.sqrt(2 * np.pi)),
    }


def judge_gauss_hermite_normal(got, check_close):
    for n, out in one_per_case(got, node_counts(), "gauss_hermite_normal"):
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise AssertionError(f"gauss_hermite_normal({n}) must return a pair (z, w) of arrays; got {kind(out)}.")
        z, w = (np.asarray(a, dtype=float).ravel() for a in out)
        z_ref, w_ref = ref.gauss_hermite_normal(n)
        if z.shape != (n,) or w.shape != (n,):
            raise AssertionError(f"gauss_hermite_normal({n}): z and w must each have {n} entries; "
                                 f"got {z.shape} and {w.shape}.")
        order = np.argsort(z)
        z, w = z[order], w[order]
        wrong = {m: np.concatenate(pair) for m, pair in rule_mistakes(n).items()}
        hint = diagnose(np.concatenate([z, w]), wrong) or \
            "take numpy.polynomial.hermite.hermgauss(n): z = sqrt(2) x and w = weights / sqrt(pi)."
        check_close(f"the weights of gauss_hermite_normal({n}) (sorted by node)", w, w_ref, ("node",), hint)
        check_close(f"the nodes of gauss_hermite_normal({n}) (sorted)", z, z_ref, ("node",), hint)


def _q_map_variant(q, sigma_w, sigma_b, n, *, w_power=2, b_power=2, square_tanh=True, root=True):
    z, w = ref.gauss_hermite_normal(n)
    u = (np.sqrt(q) if root else q) * z
    act = np.tanh(u) ** 2 if square_tanh else np.tanh(u)
    return sigma_w ** w_power * np.sum(w * act) + (sigma_b ** b_power if b_power else 0.0)


def q_map_mistakes(q, sigma_w, sigma_b, n):
    out = {}
    if n != ref.N_NODES:
        out[f"the default rule of {ref.N_NODES} nodes: the function ignores its n_nodes argument"] = \
            _q_map_variant(q, sigma_w, sigma_b, ref.N_NODES)
    out |= {
        "sigma_w where the map needs sigma_w^2": _q_map_variant(q, sigma_w, sigma_b, n, w_power=1),
        "sigma_b where the map needs sigma_b^2": _q_map_variant(q, sigma_w, sigma_b, n, b_power=1),
        "a map without the bias term sigma_b^2": _q_map_variant(q, sigma_w, sigma_b, n, b_power=0),
        "E[tanh(sqrt(q) z)] where the map needs E[tanh(sqrt(q) z)^2]":
            _q_map_variant(q, sigma_w, sigma_b, n, square_tanh=False),
        "tanh(q z) where the pre-activation is sqrt(q) z (q is a variance)":
            _q_map_variant(q, sigma_w, sigma_b, n, root=False),
    }
    for m in COARSE_RULES:
        if m != n:
            out[f"a Gauss-Hermite rule with {m} nodes: use the n_nodes you are given (too few nodes are "
                "visibly wrong at large q)"] = _q_map_variant(q, sigma_w, sigma_b, m)
    return out


def judge_q_map(got, check_close):
    for (q, sigma_w, sigma_b), out in one_per_case(got, q_cases(), "q_map"):
        if not isinstance(out, dict) or set(out) != {"default", "coarse"}:
            raise AssertionError("q_map: the grader did not receive its results; run the notebook from the top.")
        for label, n in (("default", ref.N_NODES), ("coarse", COARSE_NODES)):
            value = _as_float(out[label], "q_map")
            call = f"q_map({q:.4g}, {sigma_w:.4g}, {sigma_b:.4g}" + (")" if label == "default" else f", n_nodes={n})")
            hint = diagnose(value, q_map_mistakes(q, sigma_w, sigma_b, n)) or \
                "q_map(q) = sigma_w^2 * sum(w * tanh(sqrt(q) * z)**2) + sigma_b^2 with gauss_hermite_normal(n_nodes)."
            check_close(call, value, ref.q_map(q, sigma_w, sigma_b, n), (), hint, rtol=1e-9, atol=1e-12)


def q_star_mistakes(sigma_w, sigma_b):
    out = {}
    q = 1.0
    for k in range(1, 31):
        q = ref.q_map(q, sigma_w, sigma_b)
        out.setdefault(q, k)
    mistakes = {f"the q-map iterated only {k} time(s) from q = 1: iterate until q stops changing, or solve "
                "q_map(q) = q with a root finder": value for value, k in out.items() if k in (1, 2, 3, 5, 10, 20)}
    if sigma_b == 0 and sigma_w > 1:
        mistakes["q = 0, the unstable fixed point: with sigma_b = 0 and sigma_w > 1 return the positive root"] = 0.0
    mistakes["sigma_w^2 + sigma_b^2, the upper end of the bracket (no root was found)"] = sigma_w ** 2 + sigma_b ** 2
    return mistakes


def judge_q_star(got, check_close):
    for (sigma_w, sigma_b), out in one_per_case(got, sigma_cases(), "q_star"):
        value = _as_float(out, "q_star")
        hint = diagnose(value, q_star_mistakes(sigma_w, sigma_b)) or \
            "q* solves q_map(q) = q; bracket it between sigma_b^2 and sigma_w^2 + sigma_b^2."
        check_close(f"q_star({sigma_w:.6g}, {sigma_b:.6g})", value, ref.q_star(sigma_w, sigma_b), (), hint,
                    rtol=1e-7, atol=1e-9)


def chi_mistakes(sigma_w, sigma_b):
    z, w = ref.gauss_hermite_normal(ref.N_NODES)
    s = np.sqrt(ref.q_star(sigma_w, sigma_b))
    slope = ref.dtanh(s * z)
    return {
        "E[tanh(u)^2] (phi) where chi_1 needs E[tanh'(u)^2] (phi')": sigma_w ** 2 * np.sum(w * np.tanh(s * z) ** 2),
        "sigma_w where chi_1 needs sigma_w^2": sigma_w * np.sum(w * slope ** 2),
        "E[tanh'(u)] where chi_1 needs the square E[tanh'(u)^2]": sigma_w ** 2 * np.sum(w * slope),
        "tanh' taken at q = 1 instead of at the fixed point q*": sigma_w ** 2 * np.sum(w * ref.dtanh(z) ** 2),
        "u = q* z where the pre-activation is sqrt(q*) z": sigma_w ** 2 * np.sum(w * ref.dtanh(s ** 2 * z) ** 2),
    }


def judge_chi_1(got, check_close):
    for (sigma_w, sigma_b), out in one_per_case(got, sigma_cases(), "chi_1"):
        value = _as_float(out, "chi_1")
        expected = ref.chi_1(sigma_w, sigma_b)
        hint = diagnose(value, chi_mistakes(sigma_w, sigma_b)) or \
            "chi_1 = sigma_w^2 * E[(1 - tanh(sqrt(q*) z)^2)^2] with q* from q_star."
        phase = "ordered" if expected < 1 else "chaotic"
        check_close(f"chi_1({sigma_w:.6g}, {sigma_b:.6g}) (a point in the {phase} phase)", value, expected, (), hint,
                    rtol=1e-7, atol=1e-10)


def judge_critical_sigma_w(got, check_close):
    for sigma_b, out in one_per_case(got, critical_cases(), "critical_sigma_w"):
        value = _as_float(out, "critical_sigma_w")
        expected = ref.critical_sigma_w(sigma_b)
        wrong = {"the critical sigma_w^2: the function returns sigma_w (a standard deviation)": expected ** 2,
                 "sigma_w = 1, the critical point of sigma_b = 0 only": 1.0}
        hint = diagnose(value, wrong) or "solve chi_1(sigma_w, sigma_b) = 1 for sigma_w with a root finder on [0.5, 10]."
        check_close(f"critical_sigma_w({sigma_b:.6g})", value, expected, (), hint, rtol=1e-7, atol=1e-9)


def xi_mistakes(sigma_w, sigma_b):
    chi = ref.chi_1(sigma_w, sigma_b)
    slope = ref.chi_c(sigma_w, sigma_b)
    out = {"1 / log(chi) without the minus sign (a depth scale is positive)": 1.0 / np.log(slope),
           "-log(chi) where the depth scale is -1 / log(chi)": -np.log(slope)}
    if chi > 1:
        out["-1 / log(chi_1) in the chaotic phase: there the slope must be taken at c*, chi_c"] = -1.0 / np.log(chi)
    return out


def judge_xi_c(got, check_close):
    for (sigma_w, sigma_b), out in one_per_case(got, xi_cases(), "xi_c"):
        value = _as_float(out, "xi_c")
        expected = ref.xi_c(sigma_w, sigma_b)
        phase = "ordered" if ref.chi_1(sigma_w, sigma_b) < 1 else "chaotic"
        hint = diagnose(value, xi_mistakes(sigma_w, sigma_b)) or \
            ("ordered phase: xi_c = -1 / log(chi_1)." if phase == "ordered" else
             "chaotic phase: find c* < 1 with c_map(c) = c, then chi_c = sigma_w^2 E[tanh'(u1) tanh'(u2)] at c*.")
        check_close(f"xi_c({sigma_w:.6g}, {sigma_b:.6g}) (a point in the {phase} phase)", value, expected, (), hint,
                    rtol=1e-5, atol=1e-8)


def _prediction(x, sigma_w, sigma_b, *, w_std=None, bias=True, tanh_input=False):
    """The mean-field q^1 .. q^depth of simulate_q, or of a known wrong version of it."""
    sw = sigma_w if w_std is None else w_std
    sb = sigma_b if bias else 0.0
    first = np.mean((np.tanh(x) if tanh_input else x) ** 2)
    return ref.q_trajectory(sw ** 2 * first + sb ** 2, sw, sb, SIM_DEPTH)


def simulation_mistakes(x, sigma_w, sigma_b):
    return {
        "a network without biases": _prediction(x, sigma_w, sigma_b, bias=False),
        "weights of standard deviation sigma_w^2 / sqrt(N) (a variance used as a standard deviation)":
            _prediction(x, sigma_w, sigma_b, w_std=sigma_w ** 2),
        "tanh applied to the input x before the first layer (h^1 = W^1 x + b^1)":
            _prediction(x, sigma_w, sigma_b, tanh_input=True),
    }


def judge_simulate_q(got, check_close):
    """A finite network fluctuates around the mean field: at width 1000 each q^l stays within TOLERANCE of the
    q-map (the largest deviation seen in 60 correct runs was 14 %), and every known mistake is 40 % off or more."""
    for (x, sigma_w, sigma_b), out in one_per_case(got, simulation_cases(), "simulate_q"):
        try:
            value = np.asarray(out, dtype=float)
        except (TypeError, ValueError):
            raise AssertionError(f"simulate_q must return an array of {SIM_DEPTH} numbers; got {kind(out)}.") from None
        if value.shape != (SIM_DEPTH,):
            raise AssertionError(f"simulate_q(depth={SIM_DEPTH}): expected shape ({SIM_DEPTH},), got {value.shape}.")
        expected = _prediction(x, sigma_w, sigma_b)
        off = np.abs(value / expected - 1)
        if np.all(off < TOLERANCE):
            print(f"ok: simulate_q(width {len(x)}, sigma_w {sigma_w}, sigma_b {sigma_b}) follows the q-map "
                  f"(largest deviation {off.max():.1%})")
            continue
        hint = ""
        for mistake, wrong in simulation_mistakes(x, sigma_w, sigma_b).items():
            if np.all(np.abs(value / wrong - 1) < TOLERANCE):
                hint = f"your q^l follow the mean-field prediction of {mistake}."
                break
        layer = int(np.argmax(~(off < TOLERANCE)))
        raise AssertionError(
            f"simulate_q(width {len(x)}, sigma_w {sigma_w}, sigma_b {sigma_b}): q^{layer + 1} = {value[layer]:.4g}, "
            f"but the q-map predicts {expected[layer]:.4g} (a network this wide stays within {TOLERANCE:.0%}). Hint: "
            + (hint or "draw W with standard deviation sigma_w / sqrt(N) and b with sigma_b, a fresh pair per layer; "
                       "layer 1 acts on x, the others on tanh of the previous pre-activation."))
