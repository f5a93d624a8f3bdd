"""Hidden tests for the chapter 7 exercise: Jacobian norms, the gamma-lambda bound, clipping,
initialisers (checked by their statistics and structure) and the adding problem."""
import numpy as np

from grader.hidden_tests import diagnose, kind, one_per_case
from grader.probes.ch07_vanishing_exploding_gradients import (SEEDS, adding_sizes, baseline_targets, bound_cases,
                                                             gradient_lists, init_sizes, norm_thresholds,
                                                             tanh_states, value_thresholds)
from grader.reference import ch07_vanishing_exploding_gradients as ref

PARTS = ("jacobian_norms", "gamma_lambda_bound", "clip_grad_norm", "clip_grad_value", "xavier_normal",
         "orthogonal", "np_rnn_init", "adding_problem", "baseline_mse")
# Every part is written in plain numpy: torch inside a solution costs that part's points.
POLICY = {part: ({"torch"}, f"test_{part}", "the exercise asks for plain numpy") for part in PARTS}


def ok(what):
    print(f"ok: {what}")


def require(condition, what, message):
    """A check that is not a comparison of numbers: fail with ``message`` or print ok."""
    if not condition:
        raise AssertionError(f"{what}: {message}")
    ok(what)


def as_array(value, what, ndim):
    """``value`` as a float array of ``ndim`` dimensions, or a message saying what came back instead."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(f"{what}: expected a numpy array, got {kind(value)}.") from None
    if arr.ndim != ndim:
        raise AssertionError(f"{what}: expected an array with {ndim} dimension(s), got shape {arr.shape}.")
    return arr


# --- A: Jacobian norms over spans ---

def _norms(H, W, slope=lambda h: 1 - h ** 2, norm=lambda J: np.linalg.norm(J, 2), order="later-left", shift=0):
    J, out = np.eye(len(W)), [1.0]
    for m in range(1, len(H)):
        Jm = slope(H[m - shift])[:, None] * W
        J = Jm @ J if order == "later-left" else J @ Jm
        out.append(norm(J))
    return np.array(out)


def norm_mistakes(H, W):
    return {
        "the Frobenius norm (np.linalg.norm(J) without ord=2): the spectral norm is the largest singular value":
            _norms(H, W, norm=np.linalg.norm),
        "norms of the powers of W_hh alone: the tanh slopes diag(1 - h_m^2) are missing":
            _norms(H, W, slope=np.ones_like),
        "the product in the wrong order (J_1 ... J_s instead of J_s ... J_1)": _norms(H, W, order="earlier-left"),
        "the slope written as 1 - h_m instead of 1 - h_m^2": _norms(H, W, slope=lambda h: 1 - h),
        "off by one in time (the slope of step m taken at h_{m-1} instead of h_m)": _norms(H, W, shift=1),
    }


def judge_jacobian_norms(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "jacobian_norms"):
        H, W = tanh_states(seed)
        hint = diagnose(out, norm_mistakes(H, W)) or \
            "entry s is the spectral norm of J_s ... J_1 with J_m = diag(1 - h_m^2) W_hh; entry 0 is 1."
        check_close(f"jacobian_norms with T = {len(H)}, n = {len(W)}", out, ref.jacobian_norms(H, W), ("span s",),
                    hint)


# --- B: the gamma-lambda bound ---

def bound_mistakes(W, activation, span):
    gamma = ref.GAMMA[activation]
    return {
        "the spectral radius (largest |eigenvalue|) in place of the largest singular value: Pascanu et al.'s "
        "condition uses the singular value, the matrix 2-norm":
            (gamma * np.abs(np.linalg.eigvals(W)).max()) ** span,
        "the Frobenius norm of W_hh in place of its largest singular value": (gamma * np.linalg.norm(W)) ** span,
        "gamma = 1 for the logistic sigmoid: its slope is at most 1/4": np.linalg.norm(W, 2) ** span,
        "gamma = 1/2: the logistic slope is at most 1/4 and the tanh slope at most 1":
            (0.5 * np.linalg.norm(W, 2)) ** span,
        "the bound for one step: raise gamma * sigma_max to the power span": gamma * np.linalg.norm(W, 2),
    }


def judge_gamma_lambda_bound(got, check_close):
    for seed, per_case in one_per_case(got, SEEDS, "gamma_lambda_bound"):
        for (W, activation, span), out in one_per_case(per_case, bound_cases(seed), "gamma_lambda_bound"):
            expected = ref.gamma_lambda_bound(W, activation, span)
            wrong = {m: w for m, w in bound_mistakes(W, activation, span).items()
                     if not np.isclose(w, expected, rtol=1e-5)}
            hint = diagnose(out, wrong) or "(gamma * largest singular value of W_hh) ** span, gamma = 1/4 or 1."
            check_close(f"gamma_lambda_bound({activation!r}, span={span}) for a {len(W)}x{len(W)} W_hh", out,
                        expected, (), hint)


# --- C and D: clipping ---

def _list_of_arrays(out, like, what):
    if not isinstance(out, (list, tuple)) or len(out) != len(like):
        raise AssertionError(f"{what}: expected a list of {len(like)} arrays (one per gradient), got {kind(out)}"
                             + (f" of length {len(out)}" if isinstance(out, (list, tuple)) else "") + ".")
    return out


def clip_norm_mistakes(grads, max_norm):
    total = np.sqrt(sum((g ** 2).sum() for g in grads))
    each = [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads]
    return {
        "each array clipped by its own norm: clip_grad_norm scales all arrays together, by their joint norm": each,
        "every gradient rescaled to the threshold, even when its norm is already below it":
            [g * max_norm / total for g in grads],
        "the scale computed from the squared norm (sum of squares without the square root)":
            [g * min(1.0, max_norm / (total ** 2)) for g in grads],
    }


def judge_clip_grad_norm(got, check_close):
    for seed, per_threshold in one_per_case(got, SEEDS, "clip_grad_norm"):
        grads = gradient_lists(seed)
        for max_norm, out in one_per_case(per_threshold, norm_thresholds(grads), "clip_grad_norm"):
            what = f"clip_grad_norm with max_norm = {max_norm:.3g} on {len(grads)} arrays"
            if not isinstance(out, (list, tuple)) or len(out) != 2:
                raise AssertionError(f"{what}: return a pair (clipped arrays, total norm before clipping), "
                                     f"got {kind(out)}.")
            clipped, total = out
            expected, expected_total = ref.clip_grad_norm(grads, max_norm)
            check_close(f"{what}: the total norm returned", total, expected_total, (),
                        "the 2-norm of all entries of all arrays together, before clipping (as torch returns it).")
            _list_of_arrays(clipped, grads, what)
            wrong = clip_norm_mistakes(grads, max_norm)
            for i, (g, e) in enumerate(zip(clipped, expected)):
                hint = diagnose(g, {m: w[i] for m, w in wrong.items()}) or \
                    "multiply every array by min(1, max_norm / (total norm + 1e-6))."
                check_close(f"{what}: array {i}", g, e, ("row", "column")[:e.ndim], hint)


def clip_value_mistakes(grads, value):
    return {
        "the whole gradient set to the threshold (the lecture's g <- threshold): clip_grad_value clamps each entry":
            [np.full_like(g, value) if np.linalg.norm(g) >= value else g for g in grads],
        "a clamp from above only: entries below -clip_value must become -clip_value":
            [np.minimum(g, value) for g in grads],
        "clipping by norm: clip_grad_value clamps each entry into [-clip_value, clip_value]":
            ref.clip_grad_norm(grads, value)[0],
    }


def judge_clip_grad_value(got, check_close):
    for seed, per_threshold in one_per_case(got, SEEDS, "clip_grad_value"):
        grads = gradient_lists(seed)
        for value, out in one_per_case(per_threshold, value_thresholds(grads), "clip_grad_value"):
            what = f"clip_grad_value with clip_value = {value:.3g}"
            _list_of_arrays(out, grads, what)
            wrong = clip_value_mistakes(grads, value)
            for i, (g, e) in enumerate(zip(out, ref.clip_grad_value(grads, value))):
                hint = diagnose(g, {m: w[i] for m, w in wrong.items()}) or \
                    "np.clip(g, -clip_value, clip_value) for every array."
                check_close(f"{what}: array {i}", g, e, ("row", "column")[:e.ndim], hint)


# --- E, F, G: initialisers, judged by their statistics and structure ---

def _same_and_different(outs, what, ndim):
    """The three calls (seed, same seed, other seed): arrays, reproducible, and not the same for another seed."""
    if not isinstance(outs, (list, tuple)) or len(outs) != 3:
        raise AssertionError(f"{what}: the grader did not receive one result per call; run the notebook from the top.")
    first, again, other = (as_array(o, what, ndim) for o in outs)
    require(first.shape == again.shape and np.array_equal(first, again), f"{what}: same rng seed, same matrix",
            "two generators with the same seed gave different matrices: draw every random number from the "
            "`rng` argument (not np.random.* or a new default_rng).")
    require(first.shape != other.shape or not np.array_equal(first, other), f"{what}: another seed, another matrix",
            "generators with different seeds gave the same matrix: the result must be random, drawn from `rng`.")
    return first


def judge_xavier_normal(got, check_close):
    for seed, outs in one_per_case(got, SEEDS, "xavier_normal"):
        n_out, n_in = init_sizes(seed)
        what = f"xavier_normal({n_out}, {n_in})"
        W = _same_and_different(outs, what, 2)
        require(W.shape == (n_out, n_in), f"{what}: shape", f"expected shape ({n_out}, {n_in}) (n_out, n_in), got "
                f"{W.shape}.")
        target = 2.0 / (n_in + n_out)
        ratio = W.var() / target
        tolerance = 6 * np.sqrt(2.0 / W.size)          # six standard errors of a sample variance
        known = {"2 / n_in (the lecture's formula; Glorot's variance is 2 / (n_in + n_out))": 2.0 / n_in,
                 "1 / n_in (LeCun's variance; Glorot's is 2 / (n_in + n_out))": 1.0 / n_in,
                 "2 / n_out (Glorot's variance is 2 / (n_in + n_out))": 2.0 / n_out,
                 "a standard deviation of 2 / (n_in + n_out): that is the variance; the standard deviation is "
                 "its square root": target ** 2}
        named = next((m for m, v in known.items() if abs(W.var() / v - 1) < tolerance), "")
        require(abs(ratio - 1) < tolerance, f"{what}: variance 2 / (n_in + n_out) = {target:.5f}",
                f"the sample variance is {W.var():.5f} ({ratio:.3f} times Glorot's). "
                + (f"Your variance matches {named}." if named else "Use np.sqrt(2 / (n_in + n_out)) as the scale."))
        require(abs(W.mean()) < 6 * np.sqrt(target / W.size), f"{what}: mean 0",
                f"the sample mean is {W.mean():.4f}: the entries must be centred on 0.")
        kurtosis = ((W - W.mean()) ** 4).mean() / W.var() ** 2
        require(abs(kurtosis - 3) < 0.5, f"{what}: normally distributed",
                f"the entries have kurtosis {kurtosis:.2f} (a normal distribution has 3"
                + (", a uniform one 1.8: draw with rng.normal, not rng.uniform)." if abs(kurtosis - 1.8) < 0.3
                   else ")."))


def judge_orthogonal(got, check_close):
    for seed, outs in one_per_case(got, SEEDS, "orthogonal"):
        n = init_sizes(seed, square=True)
        what = f"orthogonal({n})"
        Q = _same_and_different(outs, what, 2)
        require(Q.shape == (n, n), f"{what}: shape", f"expected shape ({n}, {n}), got {Q.shape}.")
        gram = Q.T @ Q
        if np.allclose(np.diag(gram), 1, atol=1e-6) and not np.allclose(gram, np.eye(n), atol=1e-6):
            hint = "your columns are unit vectors but not orthogonal to one another: normalising a Gaussian's " \
                   "columns is not enough; take Q of np.linalg.qr."
        elif np.allclose(Q, np.triu(Q)):
            hint = "your matrix is upper triangular: that is R of the QR decomposition; the orthogonal factor is Q."
        elif abs(np.trace(gram) / n - 1) < 0.3:
            hint = "your matrix is orthogonal only on average (a Gaussian scaled by 1/sqrt(n)?): take Q of np.linalg.qr."
        else:
            hint = "Q of the QR decomposition of a Gaussian matrix, Q * sign(diag(R))."
        check_close(f"{what}: Q^T Q", gram, np.eye(n), ("row", "column"), hint, atol=1e-8)
        require(np.abs(Q).max() < 0.999, f"{what}: random", "your matrix is a (signed) permutation such as the "
                "identity: orthogonal, but not random; draw it from a Gaussian and orthogonalise it.")


def judge_np_rnn_init(got, check_close):
    for seed, outs in one_per_case(got, SEEDS, "np_rnn_init"):
        n = init_sizes(seed, square=True)
        what = f"np_rnn_init({n})"
        W = _same_and_different(outs, what, 2)
        require(W.shape == (n, n), f"{what}: shape", f"expected shape ({n}, {n}), got {W.shape}.")
        check_close(f"{what}: symmetric", W, W.T, ("row", "column"),
                    "A = R^T R / n is symmetric, and so is (A + I) / e: did you use R instead of R.T @ R?", atol=1e-10)
        eig = np.linalg.eigvalsh(W)
        if abs(eig.max() - 1) > 1e-8:
            hint = ("your largest eigenvalue is {:.4g}: divide A + I by its largest eigenvalue "
                    "(np.linalg.eigvalsh), not by a norm or an entry.".format(eig.max()))
            if abs(np.linalg.norm(W) - 1) < 1e-8:
                hint = "you divided by the Frobenius norm: divide by the largest eigenvalue instead."
        else:
            hint = ""
        check_close(f"{what}: largest eigenvalue", eig.max(), 1.0, (), hint or "divide by the largest eigenvalue.",
                    atol=1e-8)
        require(eig.min() > 0.08, f"{what}: positive definite, every eigenvalue in (1 / e, 1]",
                f"the smallest eigenvalue is {eig.min():.3g}; with A = R^T R / n and W = (A + I) / e every eigenvalue "
                "is at least 1 / e (about 0.2)" + (": did you forget to add the identity to A?"
                                                   if 0 <= eig.min() < 0.05 else "."))


# --- H, I: the adding problem and its baseline ---

def judge_adding_problem(got, check_close):
    for seed, outs in one_per_case(got, SEEDS, "adding_problem"):
        n, T = adding_sizes(seed)
        what = f"adding_problem(n={n}, T={T})"
        if not isinstance(outs, (list, tuple)) or len(outs) != 3:
            raise AssertionError(f"{what}: the grader did not receive one result per call; run the notebook from the top.")
        for out in outs:
            if not isinstance(out, (list, tuple)) or len(out) != 2:
                raise AssertionError(f"{what}: return a pair (X, y), got {kind(out)}.")
        X, y = (as_array(v, what, d) for v, d in zip(outs[0], (3, 1)))
        require(X.shape == (n, T, 2) and y.shape == (n,), f"{what}: shapes",
                f"expected X of shape ({n}, {T}, 2) and y of shape ({n},); got {X.shape} and {y.shape}.")
        same = [as_array(v, what, d) for v, d in zip(outs[1], (3, 1))]
        other = [as_array(v, what, d) for v, d in zip(outs[2], (3, 1))]
        require(np.array_equal(X, same[0]) and np.array_equal(y, same[1]), f"{what}: same rng seed, same data",
                "two generators with the same seed gave different data: draw every random number from `rng`.")
        require(other[0].shape != X.shape or not np.array_equal(X, other[0]), f"{what}: another seed, other data",
                "generators with different seeds gave the same data: draw the numbers from `rng`.")
        values, markers = X[..., 0], X[..., 1]
        require(np.isin(markers, (0.0, 1.0)).all() and (markers.sum(axis=1) == 2).all(),
                f"{what}: two markers per sequence",
                "channel 1 must hold exactly two ones per sequence and zeros elsewhere (two different positions).")
        positions = np.sort(np.argwhere(markers == 1)[:, 1].reshape(n, 2), axis=1)
        half = T // 2
        both_first = (positions[:, 1] < half).any()
        require((positions[:, 0] < half).all() and (positions[:, 1] >= half).all(),
                f"{what}: one marker in each half",
                f"the first marker must be in [0, T // 2) = [0, {half}) and the second in [{half}, {T})"
                + ("; in some sequences both are in the first half: draw one position from each half."
                   if both_first else "."))
        require(len(np.unique(positions[:, 0])) == half and len(np.unique(positions[:, 1])) == T - half,
                f"{what}: marker positions uniform over each half",
                "some positions of a half never carry a marker: draw each marker uniformly over its whole half "
                "(rng.integers(0, T // 2) and rng.integers(T // 2, T)).")
        require(values.min() >= 0 and values.max() < 1 and abs(values.mean() - 0.5) < 0.02
                and abs(values.var() - 1 / 12) < 0.01, f"{what}: numbers uniform on [0, 1)",
                f"channel 0 has mean {values.mean():.3f} and variance {values.var():.4f}; uniform numbers on "
                "[0, 1) have 0.5 and 1/12 = 0.0833 (rng.random).")
        marked = (values * markers).sum(axis=1)
        hint = diagnose(y, {"the sum of all the numbers of the sequence, not only the two marked ones":
                            values.sum(axis=1)}) or "y is the sum of the two numbers where channel 1 is 1."
        check_close(f"{what}: the targets y", y, marked, ("sequence",), hint)


def judge_baseline_mse(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "baseline_mse"):
        y = baseline_targets(seed)
        wrong = {"the MSE of predicting the sample mean (np.var): the baseline always predicts 1": np.var(y),
                 "a root mean squared error: the baseline's *mean squared* error has no square root":
                     np.sqrt(np.mean((y - 1) ** 2)),
                 "a mean absolute error: square the differences": np.mean(np.abs(y - 1))}
        hint = diagnose(out, wrong) or "the mean of (y - 1)^2."
        check_close(f"baseline_mse on {len(y)} targets", out, ref.baseline_mse(y), (), hint)
