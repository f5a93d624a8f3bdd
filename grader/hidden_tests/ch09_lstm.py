"""Hidden tests for the chapter 9 exercise: lstm_step, lstm_forward, init_forget_bias, lstm_parameter_count."""
import numpy as np

from grader.hidden_tests import diagnose, kind, one_per_case
from grader.probes.ch09_lstm import COUNT_SIZES, SEEDS, bias_cases, forward_args, step_args
from grader.reference import ch09_lstm as ref

PARTS = ("lstm_step", "lstm_forward", "init_forget_bias", "lstm_parameter_count")
# Every part is written in plain numpy: torch inside a solution costs that part's points.
POLICY = {part: ({"torch"}, f"test_{part}", "the exercise asks for plain numpy") for part in PARTS}
STATE_AXES = ("batch item", "hidden unit")
SEQUENCE_AXES = ("batch item", "time step", "hidden unit")
sig = ref.sigmoid


def _step(order="ifgo", out="o*tanh(c)", carry="c", gate=sig, cand=np.tanh, forget=True, squash=np.tanh):
    """A one-step LSTM with one deliberate change, as students write it wrong."""
    def step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
        blocks = dict(zip(order, np.split(x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh, 4, axis=1)))
        i_t, f_t, g_t, o_t = gate(blocks["i"]), gate(blocks["f"]), cand(blocks["g"]), gate(blocks["o"])
        kept = (h_prev if carry == "h" else c_prev) * (f_t if forget else 1.0)
        c_t = kept + i_t * g_t
        h_t = {"o*tanh(c)": o_t * squash(c_t), "tanh(o*c)": np.tanh(o_t * c_t), "o*c": o_t * c_t}[out]
        return h_t, c_t
    return step


STEP_MISTAKES = {
    "the gates taken in the order i, f, o, g (torch stacks them as i, f, g, o)": _step(order="ifog"),
    "the gates taken in the order f, i, g, o (torch stacks them as i, f, g, o)": _step(order="figo"),
    "the output gate applied before the tanh of the cell (tanh(o_t * c_t) instead of o_t * tanh(c_t))":
        _step(out="tanh(o*c)"),
    "h_t = o_t * c_t: the tanh of the cell is missing": _step(out="o*c"),
    "the cell updated from h_prev instead of c_prev (c_t = f_t * h_prev + ...)": _step(carry="h"),
    "a sigmoid where the candidate g_t uses tanh": _step(cand=sig),
    "tanh where the gates i, f, o use a sigmoid": _step(gate=np.tanh),
    "a sigmoid where h_t = o_t * tanh(c_t) uses tanh": _step(squash=sig),
    "a forgotten forget gate (c_t = c_prev + i_t * g_t)": _step(forget=False),
    "a missing second bias b_hh (torch adds both b_ih and b_hh)":
        lambda x, h, c, W_ih, W_hh, b_ih, b_hh: ref.lstm_step(x, h, c, W_ih, W_hh, b_ih, 0 * b_hh),
}


def _pair(value, what, shape):
    """``value`` as the pair (h, c) of float arrays of ``shape``, or a message saying what came back."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise AssertionError(f"{what}: expected a pair (h, c), got {kind(value)}"
                             f"{' of length %d' % len(value) if isinstance(value, (tuple, list)) else ''}.")
    try:
        pair = [np.asarray(v, dtype=float) for v in value]
    except (TypeError, ValueError):
        raise AssertionError(f"{what}: expected two numpy arrays, got {kind(value[0])} and {kind(value[1])}.") from None
    for name, arr in zip("hc", pair):
        if arr.shape != shape:
            raise AssertionError(f"{what}: {name} has shape {arr.shape}, expected {shape}.")
    return pair


def _forward_with(step, X, h0, c0, *weights):
    h, c, H, C = h0, c0, [], []
    for t in range(X.shape[1]):
        h, c = step(X[:, t], h, c, *weights)
        H.append(h)
        C.append(c)
    return np.stack(H, axis=1), np.stack(C, axis=1)


def forward_mistakes(X, h0, c0, *weights):
    """Known wrong (H, C) of lstm_forward on one case, as one array (2, B, T, H) each."""
    H, C = ref.lstm_forward(X, h0, c0, *weights)
    zeros = np.zeros_like(h0)
    wrong = {
        "states stored *before* reading X[:, t] (off by one in time)":
            (np.concatenate([h0[:, None], H[:, :-1]], axis=1), np.concatenate([c0[:, None], C[:, :-1]], axis=1)),
        "a forward pass that ignores h0 and c0 and starts from zeros": ref.lstm_forward(X, None, None, *weights),
        "a forward pass that ignores c0 (the cell starts from zeros)": ref.lstm_forward(X, h0, zeros, *weights),
        "a cell state reset to c0 at every step instead of carried":
            _forward_with(lambda x, h, c, *w: ref.lstm_step(x, h, c0, *w), X, h0, c0, *weights),
    }
    wrong.update({m: _forward_with(step, X, h0, c0, *weights) for m, step in STEP_MISTAKES.items()})
    return {m: np.stack(v) for m, v in wrong.items()}


def judge_lstm_step(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "lstm_step"):
        args = step_args(seed)
        B, D = args[0].shape
        what = f"lstm_step on a random case (B, D, H = {B}, {D}, {args[1].shape[1]})"
        h_t, c_t = _pair(out, what, args[1].shape)
        wrong = {m: np.stack(step(*args)) for m, step in STEP_MISTAKES.items()}
        hint = diagnose(np.stack([h_t, c_t]), wrong) or \
            "c_t = f_t * c_prev + i_t * g_t and h_t = o_t * tanh(c_t), gates in torch's order i, f, g, o."
        expected_h, expected_c = ref.lstm_step(*args)
        check_close(f"{what}: the cell state c_t", c_t, expected_c, STATE_AXES, hint)
        check_close(f"{what}: the hidden state h_t", h_t, expected_h, STATE_AXES, hint)


def judge_lstm_forward(got, check_close):
    if not isinstance(got, dict) or set(got) != {"initial", "zeros"}:
        raise AssertionError("lstm_forward: the grader did not receive the results it asked for.")
    cases = [(forward_args(seed), out) for seed, out in one_per_case(got["initial"], SEEDS, "lstm_forward")]
    cases.append((forward_args(SEEDS[0], initial=False), got["zeros"]))
    for args, out in cases:
        X = args[0]
        start = "from h0 and c0" if args[1] is not None else "with h0=None and c0=None"
        what = f"lstm_forward {start} on a random case of shape (B, T, D) = {X.shape}"
        H, C = _pair(out, what, (X.shape[0], X.shape[1], args[4].shape[1]))
        hint = ""
        if args[1] is not None:
            hint = diagnose(np.stack([H, C]), forward_mistakes(*args))
        hint = hint or ("H[:, t] and C[:, t] are the states after reading X[:, t], starting from h0 and c0 "
                        "(zeros when None).")
        expected_H, expected_C = ref.lstm_forward(*args)
        check_close(f"{what}: the cell states C", C, expected_C, SEQUENCE_AXES, hint)
        check_close(f"{what}: the hidden states H", H, expected_H, SEQUENCE_AXES, hint)


def judge_init_forget_bias(got, check_close):
    for (seed, b_ih, b_hh, value), out in one_per_case(got, bias_cases(), "init_forget_bias"):
        n = len(b_ih) // 4
        what = f"init_forget_bias to {value:g} with H = {n}"
        if not isinstance(out, dict) or set(out) != {"returned", "b_ih_after", "b_hh_after"}:
            raise AssertionError("init_forget_bias: the grader did not receive the results it asked for.")
        returned = out["returned"]
        if returned is None:
            changed = not np.allclose(np.asarray(out["b_ih_after"], dtype=float), b_ih)
            raise AssertionError(f"{what}: got None. Hint: " + (
                "you changed the arrays in place but returned nothing: return the pair (b_ih, b_hh)."
                if changed else "return the pair (b_ih, b_hh) of new bias vectors."))
        new_ih, new_hh = _pair(returned, what, b_ih.shape)
        check_close(f"{what}: the b_ih passed in is left unchanged", out["b_ih_after"], b_ih, ("entry",),
                    "copy the vectors first (np.array(b_ih, dtype=float)) and change the copies.")
        check_close(f"{what}: the b_hh passed in is left unchanged", out["b_hh_after"], b_hh, ("entry",),
                    "copy the vectors first (np.array(b_hh, dtype=float)) and change the copies.")
        expected_ih, expected_hh = ref.init_forget_bias(b_ih, b_hh, value)

        def with_block(vector, block, x):
            v = vector.copy()
            v[block * n:(block + 1) * n] = x
            return v
        wrong = {
            "the input-gate block (rows 0:H) set instead of the forget gate's (rows H:2H)":
                np.stack([with_block(b_ih, 0, value), with_block(b_hh, 0, 0.0)]),
            "the output-gate block (rows 3H:4H) set instead of the forget gate's (rows H:2H)":
                np.stack([with_block(b_ih, 3, value), with_block(b_hh, 3, 0.0)]),
            f"both biases' forget blocks set to {value:g}: torch adds them, so the forget bias is {2 * value:g}":
                np.stack([with_block(b_ih, 1, value), with_block(b_hh, 1, value)]),
            f"b_hh's forget block left as it was: torch adds it, so the forget bias is not {value:g}":
                np.stack([with_block(b_ih, 1, value), b_hh]),
            "every entry of both biases changed, not only the forget block":
                np.stack([np.full_like(b_ih, value), np.zeros_like(b_hh)]),
        }
        hint = diagnose(np.stack([new_ih, new_hh]), wrong) or \
            "set rows H:2H of b_ih to the value and rows H:2H of b_hh to 0; leave every other entry alone."
        check_close(f"{what}: b_ih", new_ih, expected_ih, ("entry",), hint)
        check_close(f"{what}: b_hh", new_hh, expected_hh, ("entry",), hint)


def judge_lstm_parameter_count(got, check_close):
    for (D, H), out in one_per_case(got, COUNT_SIZES, "lstm_parameter_count"):
        wrong = {
            "one bias vector per gate: torch.nn.LSTM has two (b_ih and b_hh)": 4 * H * (D + H + 1),
            "the weights of one gate only: an LSTM has four (i, f, g, o)": H * (D + H + 2),
            "three gates' weights: the candidate g has weights too": 3 * H * (D + H + 2),
            "no biases at all": 4 * H * (D + H),
            "a recurrent weight of shape (4H, D) instead of (4H, H)": 4 * H * (2 * D + 2),
        }
        hint = diagnose(out, wrong) or "count W_ih (4H, D), W_hh (4H, H), b_ih (4H,) and b_hh (4H,)."
        check_close(f"lstm_parameter_count(D={D}, H={H})", out, ref.lstm_parameter_count(D, H), (), hint)
