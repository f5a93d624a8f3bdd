"""Hidden tests for the chapter 10 exercise: gru_step, gru_forward, anbn_example, accepts, parameter_counts."""
import numpy as np

from grader.hidden_tests import diagnose, kind, one_per_case
from grader.probes.ch10_gru import ANBN_NS, COUNT_SIZES, SEEDS, accepts_cases, forward_args, step_args
from grader.reference import ch10_gru as ref

PARTS = ("gru_step", "gru_forward", "anbn_example", "accepts", "parameter_counts")
# Every part is written in plain numpy: torch inside a solution costs that part's points.
POLICY = {part: ({"torch"}, f"test_{part}", "the exercise asks for plain numpy") for part in PARTS}
STATE_AXES = ("batch item", "hidden unit")
SEQUENCE_AXES = ("batch item", "time step", "hidden unit")
sig = ref.sigmoid


def _step(order="rzn", reset="after", keep="z", use_reset=True, b_hn="inside", cand=np.tanh, second_bias=True):
    """A one-step GRU with one deliberate change, as students write it wrong."""
    def step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
        b_hh = b_hh if second_bias else 0 * b_hh
        gi = dict(zip(order, np.split(x_t @ W_ih.T + b_ih, 3, axis=1)))
        W = dict(zip(order, np.split(W_hh, 3, axis=0)))
        b = dict(zip(order, np.split(b_hh, 3)))
        r_t = sig(gi["r"] + h_prev @ W["r"].T + b["r"]) if use_reset else 1.0
        z_t = sig(gi["z"] + h_prev @ W["z"].T + b["z"])
        if reset == "after":
            inner = r_t * (h_prev @ W["n"].T + (b["n"] if b_hn == "inside" else 0)) + (b["n"] if b_hn == "outside" else 0)
        else:
            inner = (r_t * h_prev) @ W["n"].T + b["n"]
        n_t = cand(gi["n"] + inner)
        return (1 - z_t) * n_t + z_t * h_prev if keep == "z" else z_t * n_t + (1 - z_t) * h_prev
    return step


STEP_MISTAKES = {
    "the reset gate applied before the recurrent product (the paper's W_hn (r_t * h_prev), not torch's "
    "r_t * (W_hn h_prev + b_hn))": _step(reset="before"),
    "the update gate's roles swapped (h_t = z_t * n_t + (1 - z_t) * h_prev; torch keeps the old state with z_t)":
        _step(keep="1-z"),
    "a missing reset gate (n_t = tanh(W_in x_t + b_in + W_hn h_prev + b_hn))": _step(use_reset=False),
    "the blocks taken in the order z, r, n (torch stacks them as r, z, n)": _step(order="zrn"),
    "the recurrent bias b_hn added outside the reset gate (torch multiplies it by r_t)": _step(b_hn="outside"),
    "a sigmoid where the candidate n_t uses tanh": _step(cand=sig),
    "a missing second bias b_hh (torch has both b_ih and b_hh)": _step(second_bias=False),
}


def _states(value, what, shape):
    """``value`` as a float array of ``shape``, or a message saying what came back."""
    if isinstance(value, (tuple, list)):
        raise AssertionError(f"{what}: expected one array, got a {type(value).__name__} of length {len(value)}. "
                             "Hint: the GRU has no cell state; return h only.")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(f"{what}: expected a numpy array, got {kind(value)}.") from None
    if arr.shape != shape:
        raise AssertionError(f"{what}: got shape {arr.shape}, expected {shape}.")
    return arr


def _forward_with(step, X, h0, *weights):
    h, H = h0, []
    for t in range(X.shape[1]):
        h = step(X[:, t], h, *weights)
        H.append(h)
    return np.stack(H, axis=1)


def forward_mistakes(X, h0, *weights):
    """Known wrong H of gru_forward on one case."""
    H = ref.gru_forward(X, h0, *weights)
    wrong = {
        "states stored *before* reading X[:, t] (off by one in time)": np.concatenate([h0[:, None], H[:, :-1]], axis=1),
        "a forward pass that ignores h0 and starts from zeros": ref.gru_forward(X, None, *weights),
        "a state reset to h0 at every step instead of carried":
            _forward_with(lambda x, h, *w: ref.gru_step(x, h0, *w), X, h0, *weights),
    }
    wrong.update({m: _forward_with(step, X, h0, *weights) for m, step in STEP_MISTAKES.items()})
    return wrong


def judge_gru_step(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "gru_step"):
        args = step_args(seed)
        B, D = args[0].shape
        what = f"gru_step on a random case (B, D, H = {B}, {D}, {args[1].shape[1]})"
        h_t = _states(out, what, args[1].shape)
        wrong = {m: step(*args) for m, step in STEP_MISTAKES.items()}
        hint = diagnose(h_t, wrong) or ("r_t and z_t are sigmoid gates from blocks r, z; n_t = tanh(W_in x_t + b_in + "
                                        "r_t * (W_hn h_prev + b_hn)); h_t = (1 - z_t) * n_t + z_t * h_prev.")
        check_close(f"{what}: the hidden state h_t", h_t, ref.gru_step(*args), STATE_AXES, hint)


def judge_gru_forward(got, check_close):
    if not isinstance(got, dict) or set(got) != {"initial", "zeros"}:
        raise AssertionError("gru_forward: the grader did not receive the results it asked for.")
    cases = [(forward_args(seed), out) for seed, out in one_per_case(got["initial"], SEEDS, "gru_forward")]
    cases.append((forward_args(SEEDS[0], initial=False), got["zeros"]))
    for args, out in cases:
        X = args[0]
        start = "from h0" if args[1] is not None else "with h0=None"
        what = f"gru_forward {start} on a random case of shape (B, T, D) = {X.shape}"
        H = _states(out, what, (X.shape[0], X.shape[1], args[3].shape[1]))
        hint = diagnose(H, forward_mistakes(*args)) if args[1] is not None else ""
        hint = hint or "H[:, t] is the state after reading X[:, t], starting from h0 (zeros when None)."
        check_close(f"{what}: the hidden states H", H, ref.gru_forward(*args), SEQUENCE_AXES, hint)


def anbn_mistakes(n):
    """Known wrong (X, y) of anbn_example(n), stacked as one array (2n, 3): X's columns, then y."""
    X, y = ref.anbn_example(n)
    ones_at = lambda where: np.array([1.0 if t in where else 0.0 for t in range(2 * n)])
    wrong = {
        "a target of 1 after every b (the target is 1 only where the prefix is a complete a^k b^k, the last step)":
            (X, ones_at(range(n, 2 * n))),
        "a target of 1 at the first b instead of the last step": (X, ones_at({n})),
        "the target shifted one step early (1 at step 2n - 2)": (X, ones_at({2 * n - 2})),
        "no target of 1 at all": (X, np.zeros(2 * n)),
        "the one-hot columns swapped (column 0 is a, column 1 is b)": (X[:, ::-1], y),
        "the b's before the a's": (X[::-1], y),
    }
    return {m: np.column_stack([wx, wy]) for m, (wx, wy) in wrong.items() if not np.array_equal(wy, y) or
            not np.array_equal(wx, X)}


def judge_anbn_example(got, check_close):
    for n, out in one_per_case(got, ANBN_NS, "anbn_example"):
        what = f"anbn_example({n})"
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise AssertionError(f"{what}: expected a pair (X, y), got {kind(out)}.")
        try:
            X, y = (np.asarray(v, dtype=float) for v in out)
        except (TypeError, ValueError):
            raise AssertionError(f"{what}: expected two numpy arrays, got {kind(out[0])} and {kind(out[1])}.") from None
        if X.shape != (2 * n, 2) or y.shape != (2 * n,):
            raise AssertionError(f"{what}: got X of shape {X.shape} and y of shape {y.shape}, expected "
                                 f"({2 * n}, 2) and ({2 * n},): one row per symbol, one column per symbol a, b.")
        hint = diagnose(np.column_stack([X, y]), anbn_mistakes(n)) or \
            "X[t] is one-hot (a = [1, 0], b = [0, 1]), n a's then n b's; y[t] = 1 only at the last step."
        expected_X, expected_y = ref.anbn_example(n)
        check_close(f"{what}: the inputs X", X, expected_X, ("step", "column"), hint)
        check_close(f"{what}: the targets y", y, expected_y, ("step",), hint)


ACCEPTS_MISTAKES = {
    "a test of the last step only (every step's prediction must be right)":
        lambda p, n: bool(p[-1] >= 0.5),
    "a test of the b's only (the steps inside the a's count too)":
        lambda p, n: bool(np.all((p[n:] >= 0.5) == (np.arange(n, 2 * n) == 2 * n - 1))),
    "a strict > 0.5 (a probability of exactly 0.5 counts as 'complete')":
        lambda p, n: bool(np.all((p > 0.5) == (np.arange(2 * n) == 2 * n - 1))),
    "the answer inverted (True for a rejected string)":
        lambda p, n: not ref.accepts(p, n),
}


def judge_accepts(got, check_close):
    cases = accepts_cases()
    answers = [out for _, out in one_per_case(got, cases, "accepts")]
    for (n, p), out in zip(cases, answers):
        if not isinstance(out, (bool, np.bool_)):
            raise AssertionError(f"accepts on a string with n = {n}: expected True or False, got {kind(out)}.")
    expected = [ref.accepts(p, n) for n, p in cases]
    wrong = {m: [f(p, n) for n, p in cases] for m, f in ACCEPTS_MISTAKES.items()}
    hint = diagnose([float(a) for a in answers], {m: [float(v) for v in w] for m, w in wrong.items()}) or \
        "accept only when (p >= 0.5) equals the target at every one of the 2n steps."
    check_close(f"accepts on {len(cases)} strings with n from 1 to {max(n for n, _ in cases)}, right and wrong "
                "predictions", np.array(answers, dtype=float), np.array(expected, dtype=float), ("case",), hint)


def judge_parameter_counts(got, check_close):
    for (D, H), out in one_per_case(got, COUNT_SIZES, "parameter_counts"):
        what = f"parameter_counts(D={D}, H={H})"
        if not isinstance(out, dict) or set(out) != {"rnn", "gru", "lstm"}:
            keys = sorted(map(str, out)) if isinstance(out, dict) else None
            raise AssertionError(f"{what}: expected a dict with the keys 'rnn', 'gru' and 'lstm', got "
                                 + (f"the keys {keys}." if keys is not None else f"{kind(out)}."))
        block = H * (D + H + 2)
        wrong = {
            "one bias vector per block: torch has two (b_ih and b_hh)": {"rnn": H * (D + H + 1),
                                                                          "gru": 3 * H * (D + H + 1),
                                                                          "lstm": 4 * H * (D + H + 1)},
            "two blocks for the GRU: its candidate n has weights too": {"gru": 2 * block},
            "four blocks for the GRU: it has three (r, z, n)": {"gru": 4 * block},
            "three blocks for the LSTM: it has four (i, f, g, o)": {"lstm": 3 * block},
            "no biases at all": {"rnn": H * (D + H), "gru": 3 * H * (D + H), "lstm": 4 * H * (D + H)},
            "a recurrent matrix of shape (H, D) instead of (H, H)": {"rnn": H * (2 * D + 2), "gru": 3 * H * (2 * D + 2),
                                                                     "lstm": 4 * H * (2 * D + 2)},
        }
        expected = ref.parameter_counts(D, H)
        keys = ("rnn", "gru", "lstm")
        try:
            triple = [float(out[k]) for k in keys]
        except (TypeError, ValueError):
            triple = None
        named = {m: [w.get(k, expected[k]) for k in keys] for m, w in wrong.items()}
        hint = (diagnose(triple, named) if triple is not None else "") or \
            "each block has an input matrix (H, D), a recurrent matrix (H, H) and two biases (H,)."
        for name in keys:
            check_close(f"{what}['{name}']", out[name], np.int64(expected[name]), (), hint)
