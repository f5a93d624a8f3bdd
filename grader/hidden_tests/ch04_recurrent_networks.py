"""Hidden tests for the chapter 4 exercise (rnn_step, rnn_forward, many_to_one_logits, cross_entropy)."""
import numpy as np

from grader.hidden_tests import diagnose, one_per_case
from grader.probes.ch04_recurrent_networks import SEEDS, cross_entropy_cases, forward_args, logits_args, step_args
from grader.reference import ch04_recurrent_networks as ref

# Every part is written in plain numpy: torch inside a solution costs that part's points.
POLICY = {part: ({"torch"}, f"test_{part}", "the exercise asks for plain numpy")
          for part in ("rnn_step", "rnn_forward", "many_to_one_logits", "cross_entropy")}
STATE_AXES = ("batch item", "hidden unit")
SEQUENCE_AXES = ("batch item", "time step", "hidden unit")


# Known wrong versions of one step, as students write them.
STEP_MISTAKES = {
    "a sigmoid where the recurrence uses tanh":
        lambda x, h, W_xh, W_hh, b: 1 / (1 + np.exp(-(x @ W_xh.T + h @ W_hh.T + b))),
    "a ReLU where the recurrence uses tanh":
        lambda x, h, W_xh, W_hh, b: np.maximum(0, x @ W_xh.T + h @ W_hh.T + b),
    "no activation at all (tanh is missing)":
        lambda x, h, W_xh, W_hh, b: x @ W_xh.T + h @ W_hh.T + b,
    "W_hh transposed (use h_prev @ W_hh.T for rows of states)":
        lambda x, h, W_xh, W_hh, b: np.tanh(x @ W_xh.T + h @ W_hh + b),
    "a missing bias b_h":
        lambda x, h, W_xh, W_hh, b: np.tanh(x @ W_xh.T + h @ W_hh.T),
    "a step that ignores h_prev":
        lambda x, h, W_xh, W_hh, b: np.tanh(x @ W_xh.T + b),
}


def _forward_with(step, X, h0, W_xh, W_hh, b_h):
    h, states = h0, []
    for t in range(X.shape[1]):
        h = step(X[:, t], h, W_xh, W_hh, b_h)
        states.append(h)
    return np.stack(states, axis=1)


def forward_mistakes(X, h0, W_xh, W_hh, b_h):
    """Known wrong outputs of rnn_forward on one case."""
    args = (W_xh, W_hh, b_h)
    right = ref.rnn_forward(X, h0, *args)
    wrong = {
        "H[:, t] holding the state *before* reading X[:, t] (off by one in time)":
            np.concatenate([h0[:, None], right[:, :-1]], axis=1),
        "a forward pass that ignores h0 and starts from zeros":
            ref.rnn_forward(X, None, *args),
        "a forward pass that restarts every step from h0 instead of carrying the state":
            np.stack([ref.rnn_step(X[:, t], h0, *args) for t in range(X.shape[1])], axis=1),
    }
    wrong.update({m: _forward_with(step, X, h0, *args) for m, step in STEP_MISTAKES.items()})
    return wrong


def judge_rnn_step(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "rnn_step"):
        args = step_args(seed)
        wrong = {m: step(*args) for m, step in STEP_MISTAKES.items()}
        hint = diagnose(out, wrong) or "compare your formula with h_t = tanh(W_xh x_t + W_hh h_prev + b_h), row by row."
        B, D = args[0].shape
        check_close(f"rnn_step on a random case (B, D, H = {B}, {D}, {args[1].shape[1]})",
                    out, ref.rnn_step(*args), STATE_AXES, hint)


def judge_rnn_forward(got, check_close):
    if not isinstance(got, dict) or set(got) != {"h0", "no_h0"}:
        raise AssertionError("rnn_forward: the grader did not receive the results it asked for.")
    for seed, out in one_per_case(got["h0"], SEEDS, "rnn_forward"):
        args = forward_args(seed)
        hint = diagnose(out, forward_mistakes(*args)) or "H[:, t] must be the state after reading X[:, t], starting from h0."
        check_close(f"rnn_forward on a random case of shape (B, T, D) = {args[0].shape}",
                    out, ref.rnn_forward(*args), SEQUENCE_AXES, hint)
    check_close("rnn_forward with h0=None", got["no_h0"], ref.rnn_forward(*forward_args(SEEDS[0], h0=False)),
                SEQUENCE_AXES, "h0=None means a zero initial state of shape (B, H).")


def judge_many_to_one_logits(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "many_to_one_logits"):
        args = logits_args(seed)
        X, h0, W_xh, W_hh, b_h, W_hy, b_y = args
        H = ref.rnn_forward(X, h0, W_xh, W_hh, b_h)
        wrong = {
            "logits read from the first hidden state H[:, 0] instead of the last": H[:, 0] @ W_hy.T + b_y,
            "logits from the mean of all hidden states instead of the last": H.mean(axis=1) @ W_hy.T + b_y,
            "a missing output bias b_y": H[:, -1] @ W_hy.T,
        }
        hint = diagnose(out, wrong) or "a many-to-one model scores the last hidden state: W_hy h_T + b_y."
        check_close("many_to_one_logits on a random case", out, ref.many_to_one_logits(*args),
                    ("batch item", "class"), hint)


def judge_cross_entropy(got, check_close):
    for (seed, scale, logits, targets), out in one_per_case(got, cross_entropy_cases(), "cross_entropy"):
        expected = ref.cross_entropy(logits, targets)
        wrong = {
            "the sum over the batch instead of the mean": expected * len(targets),
            "a base-2 logarithm (bits) instead of the natural log (nats)": expected / np.log(2),
            "a missing minus sign": -expected,
        }
        hint = diagnose(out, wrong)
        if not hint and scale > 1 and not np.all(np.isfinite(np.asarray(out, dtype=float))):
            hint = "logits of size 1000 overflow np.exp: subtract each row's maximum first (log-sum-exp)."
        check_close(f"cross_entropy with logits of scale {scale:g}", out, expected, (),
                    hint or "the mean over the batch of -log softmax(logits)[target].")
