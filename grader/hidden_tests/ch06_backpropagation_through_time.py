"""Hidden tests for the chapter 6 exercise (rnn_backward, step_jacobian, jacobian_product, truncated_bptt_grads)."""
import numpy as np

from grader.hidden_tests import diagnose, kind, one_per_case
from grader.probes.ch06_backpropagation_through_time import (SEEDS, args_of, forward_cache, product_args,
                                                            product_spans, random_case, step_args,
                                                            truncation_lengths)
from grader.reference import ch06_backpropagation_through_time as ref

# Every part is written in plain numpy: torch inside a solution costs that part's points.
POLICY = {part: ({"torch"}, f"test_{part}", "the exercise asks for plain numpy")
          for part in ("rnn_backward", "step_jacobian", "jacobian_product", "truncated_bptt_grads")}
GRAD_AXES = {"dW_xh": ("hidden unit", "input unit"), "dW_hh": ("hidden unit", "hidden unit"),
             "db_h": ("hidden unit",), "dW_hy": ("class", "hidden unit"), "db_y": ("class",),
             "dh0": ("batch item", "hidden unit")}
JAC_AXES = ("row (unit of the later state)", "column (unit of the earlier state)")


def _backward_variant(cache, *, next_term=True, preact_slope=False, transposed=False, summed=False):
    """The reference backward pass with one known mistake switched on."""
    X, Y, h0, H, P = cache["X"], cache["Y"], cache["h0"], cache["H"], cache["P"]
    W_xh, W_hh, W_hy = cache["W_xh"], cache["W_hh"], cache["W_hy"]
    B, T, _ = X.shape
    dY = P.copy()
    np.put_along_axis(dY, Y[..., None], np.take_along_axis(dY, Y[..., None], axis=2) - 1, axis=2)
    if not summed:
        dY /= B * T
    g = dict(dW_xh=np.zeros_like(W_xh), dW_hh=np.zeros_like(W_hh), db_h=np.zeros(W_hh.shape[0]),
             dW_hy=np.einsum("btc,bth->ch", dY, H), db_y=dY.sum(axis=(0, 1)))
    dh_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = H[:, t - 1] if t > 0 else h0
        dh = dY[:, t] @ W_hy + (dh_next if next_term else 0)
        a = X[:, t] @ W_xh.T + h_prev @ W_hh.T + cache["b_h"]
        dz = (1 - (a if preact_slope else H[:, t]) ** 2) * dh
        g["dW_xh"] += dz.T @ X[:, t]
        g["dW_hh"] += (h_prev.T @ dz) if transposed else (dz.T @ h_prev)
        g["db_h"] += dz.sum(axis=0)
        dh_next = dz @ W_hh
    g["dh0"] = dh_next
    return g


def backward_mistakes(cache):
    return {
        "a backward pass that forgets the gradient arriving from the next time step (dh_next not added to dh)":
            _backward_variant(cache, next_term=False),
        "the tanh slope 1 - a^2 taken at the pre-activation a instead of 1 - h_t^2 at the state":
            _backward_variant(cache, preact_slope=True),
        "dW_hh transposed (it is the sum over t of dz_t^T @ h_prev, shape (H, H) with rows = receiving unit)":
            _backward_variant(cache, transposed=True),
        "the gradient of the SUM of the losses: divide by the number of positions B*T (the loss is a mean)":
            _backward_variant(cache, summed=True),
    }


def judge_rnn_backward(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "rnn_backward"):
        c = random_case(seed)
        cache = forward_cache(seed)
        expected = ref.rnn_backward(cache)
        if not isinstance(out, dict):
            raise AssertionError(f"rnn_backward must return a dict with keys {ref.GRAD_NAMES}; got {kind(out)}.")
        wrong = backward_mistakes(cache)
        B, T = c["Y"].shape
        for name in ref.GRAD_NAMES:
            if name not in out:
                raise AssertionError(f"rnn_backward: the returned dict has no key {name!r}; it needs {ref.GRAD_NAMES}.")
            hint = diagnose(out[name], {m: w[name] for m, w in wrong.items()}) or \
                "write out dL/dh_t = W_hy^T dy_t + dh_next, then dz_t = (1 - h_t^2) * dL/dh_t, and sum over t."
            check_close(f"{name} from rnn_backward on a random case (B, T, D, H, C = {B}, {T}, "
                        f"{c['X'].shape[2]}, {c['W_hh'].shape[0]}, {c['W_hy'].shape[0]})",
                        out[name], expected[name], GRAD_AXES[name], hint)


STEP_MISTAKES = {
    "W_hh transposed: entry [i, j] is (1 - h_t[i]^2) * W_hh[i, j], not W_hh[j, i]":
        lambda h, W: (1 - h ** 2)[:, None] * W.T,
    "the diagonal on the wrong side (W_hh @ diag(1 - h_t^2) instead of diag(1 - h_t^2) @ W_hh)":
        lambda h, W: W * (1 - h ** 2)[None, :],
    "a missing diag(1 - h_t^2): the tanh slope is left out":
        lambda h, W: np.array(W, dtype=float),
    "the slope written as 1 - h_t instead of 1 - h_t^2":
        lambda h, W: (1 - h)[:, None] * W,
}


def judge_step_jacobian(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "step_jacobian"):
        h_t, W = step_args(seed)
        hint = diagnose(out, {m: f(h_t, W) for m, f in STEP_MISTAKES.items()}) or \
            "dh_t/dh_{t-1} = diag(1 - h_t^2) W_hh for one example."
        check_close(f"step_jacobian with H = {len(h_t)}", out, ref.step_jacobian(h_t, W), JAC_AXES, hint)


def _product(H, W, k, t, order="later-left", shift=0):
    J = np.eye(W.shape[0])
    for m in range(k + 1 + shift, t + 1 + shift):
        Jm = ref.step_jacobian(H[m], W)
        J = Jm @ J if order == "later-left" else J @ Jm
    return J


def product_mistakes(H, W, k, t):
    wrong = {"the product in the wrong order (J_{k+1} ... J_t instead of J_t ... J_{k+1})":
             _product(H, W, k, t, order="earlier-left"),
             "one factor too many (the product starts at J_k instead of J_{k+1})":
             _product(H, W, k - 1, t) if k >= 1 else None,
             "off by one in time (the slope of step m taken at h_{m-1} instead of h_m)":
             _product(H, W, k, t, shift=-1) if k >= 1 else None,
             "a product of W_hh alone (the tanh slopes diag(1 - h_m^2) are missing)":
             np.linalg.matrix_power(W, t - k)}
    return {m: w for m, w in wrong.items() if w is not None}


def judge_jacobian_product(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "jacobian_product"):
        H, W = product_args(seed)
        T = len(H)
        spans = product_spans(T)
        for (k, t), value in one_per_case(out["spans"], spans, "jacobian_product"):
            hint = diagnose(value, product_mistakes(H, W, k, t)) or \
                "dh_t/dh_k = J_t J_{t-1} ... J_{k+1} with J_m = diag(1 - h_m^2) W_hh."
            check_close(f"jacobian_product(k={k}, t={t}) with T = {T}, H = {W.shape[0]}", value,
                        ref.jacobian_product(H, W, k, t), JAC_AXES, hint)
        check_close(f"jacobian_product with k = t = {T - 1}", out["k_equals_t"],
                    np.eye(W.shape[0]), JAC_AXES, "with k = t there is no step between: the identity matrix.")


def truncated_mistakes(args, k):
    X, Y, h0 = args[:3]
    params = args[3:]
    T = X.shape[1]
    full = ref.rnn_backward(ref.rnn_forward(*args)[1])
    restart = {n: 0.0 for n in ref.GRAD_NAMES[:-1]}
    means = {n: 0.0 for n in ref.GRAD_NAMES[:-1]}
    h = h0
    for start in range(0, T, k):
        stop = min(start + k, T)
        _, cache = ref.rnn_forward(X[:, start:stop], Y[:, start:stop], h, *params)
        g = ref.rnn_backward(cache)
        _, cache0 = ref.rnn_forward(X[:, start:stop], Y[:, start:stop], h0, *params)
        g0 = ref.rnn_backward(cache0)
        for n in restart:
            restart[n] = restart[n] + g0[n] * (stop - start) / T
            means[n] = means[n] + g[n]
        h = cache["H"][:, -1]
    return {"gradients that flow across chunk boundaries (the state is not detached: this is full BPTT)": full,
            "a state restarted from h0 at every chunk instead of carried over from the previous chunk": restart,
            "the sum of each chunk's mean gradient: weight each chunk by its length / T (the loss is a mean over all positions)": means}


def judge_truncated_bptt_grads(got, check_close):
    for seed, per_k in one_per_case(got, SEEDS, "truncated_bptt_grads"):
        args = args_of(random_case(seed))
        T = args[0].shape[1]
        for k, out in one_per_case(per_k, truncation_lengths(seed), "truncated_bptt_grads"):
            expected = ref.truncated_bptt_grads(*args, k)
            if not isinstance(out, dict):
                raise AssertionError("truncated_bptt_grads must return a dict of gradients "
                                     f"{ref.GRAD_NAMES[:-1]}; got {kind(out)}.")
            wrong = truncated_mistakes(args, k)
            for name in ref.GRAD_NAMES[:-1]:
                if name not in out:
                    raise AssertionError(f"truncated_bptt_grads: the returned dict has no key {name!r}.")
                hint = diagnose(out[name], {m: w[name] for m, w in wrong.items()}) or \
                    "run each chunk from the carried (but constant) state, backpropagate inside the chunk only, and add up."
                check_close(f"{name} from truncated_bptt_grads with k = {k}, T = {T}", out[name], expected[name],
                            GRAD_AXES[name], hint)
