"""Hidden tests for the chapter 4 exercise (rnn_step, rnn_forward, many_to_one_logits, cross_entropy)."""
import numpy as np

from grader.hidden_tests import copies, diagnose, use_reference_parts
from grader.reference import ch04_recurrent_networks as ref

SEEDS = (401, 402, 403)
# Every part is written in plain numpy: torch inside a solution costs that part's points.
POLICY = {part: ({"torch"}, f"test_{part}", "the exercise asks for plain numpy")
          for part in ("rnn_step", "rnn_forward", "many_to_one_logits", "cross_entropy")}
STATE_AXES = ("batch item", "hidden unit")
SEQUENCE_AXES = ("batch item", "time step", "hidden unit")


def random_case(seed):
    """A seeded problem of random size; D != H so a swapped weight fails loudly."""
    rng = np.random.default_rng(seed)
    B, T, H, C = (int(n) for n in rng.integers([1, 3, 2, 2], [5, 8, 6, 5]))
    D = H + int(rng.integers(1, 4))
    return dict(
        X=rng.normal(size=(B, T, D)),
        h0=rng.normal(scale=0.5, size=(B, H)),
        W_xh=rng.normal(scale=0.6, size=(H, D)),
        W_hh=rng.normal(scale=0.6, size=(H, H)),
        b_h=rng.normal(scale=0.5, size=H),
        W_hy=rng.normal(size=(C, H)),
        b_y=rng.normal(size=C),
        targets=rng.integers(0, C, size=B),
    )


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


def test_rnn_step(rnn_step, check_close):
    for seed in SEEDS:
        c = random_case(seed)
        x_t, h_prev = c["X"][:, 0], c["h0"]
        args = (x_t, h_prev, c["W_xh"], c["W_hh"], c["b_h"])
        got = rnn_step(*copies(*args))
        wrong = {m: step(*args) for m, step in STEP_MISTAKES.items()}
        hint = diagnose(got, wrong) or "compare your formula with h_t = tanh(W_xh x_t + W_hh h_prev + b_h), row by row."
        check_close(f"rnn_step on a random case (B, D, H = {x_t.shape[0]}, {x_t.shape[1]}, {h_prev.shape[1]})",
                    got, ref.rnn_step(*args), STATE_AXES, hint)


def test_rnn_forward(rnn_forward, check_close, namespace):
    use_reference_parts(namespace, rnn_step=ref.rnn_step)
    for seed in SEEDS:
        c = random_case(seed)
        args = (c["X"], c["h0"], c["W_xh"], c["W_hh"], c["b_h"])
        got = rnn_forward(*copies(*args))
        hint = diagnose(got, forward_mistakes(*args)) or "H[:, t] must be the state after reading X[:, t], starting from h0."
        check_close(f"rnn_forward on a random case of shape (B, T, D) = {c['X'].shape}",
                    got, ref.rnn_forward(*args), SEQUENCE_AXES, hint)
    c = random_case(SEEDS[0])
    args = (c["X"], None, c["W_xh"], c["W_hh"], c["b_h"])
    check_close("rnn_forward with h0=None", rnn_forward(*copies(*args)), ref.rnn_forward(*args),
                SEQUENCE_AXES, "h0=None means a zero initial state of shape (B, H).")


def test_many_to_one_logits(many_to_one_logits, check_close, namespace):
    use_reference_parts(namespace, rnn_step=ref.rnn_step, rnn_forward=ref.rnn_forward)
    for seed in SEEDS:
        c = random_case(seed)
        args = (c["X"], c["h0"], c["W_xh"], c["W_hh"], c["b_h"], c["W_hy"], c["b_y"])
        got = many_to_one_logits(*copies(*args))
        H = ref.rnn_forward(*args[:5])
        wrong = {
            "logits read from the first hidden state H[:, 0] instead of the last":
                H[:, 0] @ c["W_hy"].T + c["b_y"],
            "logits from the mean of all hidden states instead of the last":
                H.mean(axis=1) @ c["W_hy"].T + c["b_y"],
            "a missing output bias b_y": H[:, -1] @ c["W_hy"].T,
        }
        hint = diagnose(got, wrong) or "a many-to-one model scores the last hidden state: W_hy h_T + b_y."
        check_close("many_to_one_logits on a random case", got, ref.many_to_one_logits(*args),
                    ("batch item", "class"), hint)


def test_cross_entropy(cross_entropy, check_close):
    for seed in SEEDS:
        c = random_case(seed)
        rng = np.random.default_rng(seed)
        for scale in (1.0, 1000.0):
            logits = scale * rng.normal(size=(len(c["targets"]), 4))
            targets = rng.integers(0, 4, size=len(logits))
            got = cross_entropy(*copies(logits, targets))
            expected = ref.cross_entropy(logits, targets)
            wrong = {
                "the sum over the batch instead of the mean": expected * len(targets),
                "a base-2 logarithm (bits) instead of the natural log (nats)": expected / np.log(2),
                "a missing minus sign": -expected,
            }
            hint = diagnose(got, wrong)
            if not hint and scale > 1 and not np.all(np.isfinite(np.asarray(got, dtype=float))):
                hint = "logits of size 1000 overflow np.exp: subtract each row's maximum first (log-sum-exp)."
            check_close(f"cross_entropy with logits of scale {scale:g}", got, expected, (),
                        hint or "the mean over the batch of -log softmax(logits)[target].")
