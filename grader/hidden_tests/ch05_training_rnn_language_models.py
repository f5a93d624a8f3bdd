"""Hidden tests for the chapter 5 exercise (make_batches, sequence_cross_entropy, train_step, sample,
rnn_output_shapes)."""
import numpy as np
import torch

from grader.hidden_tests import diagnose, one_per_case
from grader.probes.ch05_training_rnn_language_models import (
    FEEDBACK_BUMP, FEEDBACK_START, FEEDBACK_TEMPERATURE, REPEAT_N, SAMPLE_N, SAMPLE_SCORES, SAMPLE_TEMPERATURES,
    SEEDS, SHAPE_CASES, STATE_BUMP, STATE_N, STATE_START, TRAIN_SETTINGS, batch_cases, cross_entropy_cases,
    flat_parameters, small_model, train_case)
from grader.reference import ch05_training_rnn_language_models as ref


def _np(x):
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


def _pair(got, message):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise AssertionError(message)
    return got


# ---------------------------------------------------------------- make_batches
def batch_mistakes(ids, seq_len):
    ids = torch.as_tensor(ids)
    n = (len(ids) - 1) // seq_len
    x, _ = ref.make_batches(ids, seq_len)
    m = len(ids) // seq_len
    return {
        "targets that are not shifted (the model would predict the character it is reading)": (x, x),
        "targets shifted the wrong way (predicting the previous character)":
            (x, torch.cat([ids[:1], ids[:-1]])[:n * seq_len].reshape(n, seq_len)),
        "inputs and targets swapped": (ref.make_batches(ids, seq_len)[1], x),
        "overlapping windows (each window starts one step after the previous one)":
            (torch.stack([ids[i:i + seq_len] for i in range(n)]),
             torch.stack([ids[i + 1:i + seq_len + 1] for i in range(n)])),
    } if m >= 1 else {}


def judge_make_batches(got, check_close):
    for (ids, seq_len), out in one_per_case(got, batch_cases(), "make_batches"):
        x, y = ref.make_batches(ids, seq_len)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise AssertionError(f"make_batches: expected a pair (inputs, targets), got {type(out).__name__}.")
        gx, gy = (_np(g) for g in out)
        for mistake, (wx, wy) in batch_mistakes(ids, seq_len).items():
            if gx.shape == tuple(wx.shape) and gy.shape == tuple(wy.shape) and \
                    np.array_equal(gx, _np(wx)) and np.array_equal(gy, _np(wy)):
                hint = f"your result matches {mistake}."
                break
        else:
            hint = "window k is inputs ids[k*L:(k+1)*L] and targets ids[k*L+1:(k+1)*L+1]; drop the incomplete tail."
        what = f"make_batches on a stream of {len(ids)} ids with seq_len {seq_len}"
        check_close(what + ": inputs", gx, _np(x), ("window", "position"), hint, atol=0)
        check_close(what + ": targets", gy, _np(y), ("window", "position"), hint, atol=0)


# ---------------------------------------------------------------- sequence_cross_entropy
def judge_sequence_cross_entropy(got, check_close):
    cases = cross_entropy_cases()
    for (scale, logits, targets), out in one_per_case(got, cases, "sequence_cross_entropy"):
        B, T, V = logits.shape
        loss, ppl = ref.sequence_cross_entropy(logits, targets)
        got_loss, got_ppl = (_np(v) for v in _pair(out, "sequence_cross_entropy: expected a pair (loss, perplexity)."))
        wrong = {
            "the sum over tokens instead of the mean": loss * B * T,
            "the mean over the batch of per-sequence sums (divide by B*T, not B)": loss * T,
            "a base-2 logarithm (bits) instead of nats": loss / np.log(2),
            "a missing minus sign": -loss,
            "the loss of predicting the class at position 0 for every target":
                -(logits - torch.logsumexp(logits, -1, keepdim=True))[..., 0].mean(),
        }
        hint = diagnose(got_loss, {k: _np(v) for k, v in wrong.items()})
        if not hint and scale > 1 and not np.all(np.isfinite(got_loss.astype(float))):
            hint = "logits of size 1000 overflow exp: use log-sum-exp (subtract the maximum, or torch.logsumexp)."
        what = f"sequence_cross_entropy (B, T, V) = ({B}, {T}, {V}), logits of scale {scale:g}"
        check_close(what + ": loss", got_loss, _np(loss), (), hint or
                    "the mean over all B*T tokens of -log softmax(logits)[target], in nats.")
        if scale == 1.0:
            ppl_wrong = {"2 ** loss (perplexity is e ** loss for a loss in nats)": 2 ** loss,
                         "the loss itself instead of exp(loss)": loss}
            check_close(what + ": perplexity", got_ppl, _np(ppl), (),
                        diagnose(got_ppl, {k: _np(v) for k, v in ppl_wrong.items()}) or "perplexity = exp(loss).")


# ---------------------------------------------------------------- train_step
def _loss(model, x, y, reduction="mean"):
    logits, _ = model(x)
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                             reduction=reduction)


def _variant(seed, x, y, max_norm, lr, steps, kind):
    """Parameters after `steps` SGD steps of a (possibly wrong) training step."""
    model = small_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        if kind != "no zero_grad":
            opt.zero_grad()
        if kind == "untargeted":
            loss = _loss(model, x, x)
        else:
            loss = _loss(model, x, y, "sum" if kind == "sum" else "mean")
        loss.backward()
        if kind == "per parameter":
            for p in model.parameters():
                torch.nn.utils.clip_grad_norm_([p], max_norm)
        elif kind == "clip by value":
            torch.nn.utils.clip_grad_value_(model.parameters(), max_norm)
        elif kind != "no clipping":
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        if kind != "no step":
            opt.step()
    return flat_parameters(model).numpy()


def _reference_run(seed, x, y, max_norm, lr, steps):
    """Parameters after `steps` calls of the reference train_step, from the probe's start."""
    model = small_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        ref.train_step(model, opt, x, y, max_norm)
    return flat_parameters(model).numpy()


TRAIN_MISTAKES = {
    "gradients clipped per parameter instead of by the global norm of all of them": "per parameter",
    "gradients clipped by value instead of by their global norm": "clip by value",
    "no gradient clipping": "no clipping",
    "the loss summed over tokens instead of averaged": "sum",
    "a missing optimizer.zero_grad() (gradients accumulate across steps)": "no zero_grad",
    "targets equal to the inputs": "untargeted",
    "a missing optimizer.step() (parameters never change)": "no step",
}


def judge_train_step(got, check_close):
    runs = iter(out for _, out in one_per_case(got, range(len(SEEDS) * len(TRAIN_SETTINGS)), "train_step"))
    for seed in SEEDS:
        x, y = train_case(seed)
        B, T = x.shape
        # clipping active (small max_norm) and inactive (large max_norm); two steps to expose accumulation
        for max_norm, lr in TRAIN_SETTINGS:
            run = next(runs)
            expected = _reference_run(seed, x, y, max_norm, lr, 2)
            wrong = {m: _variant(seed, x, y, max_norm, lr, 2, k) for m, k in TRAIN_MISTAKES.items()}
            wrong = {m: w for m, w in wrong.items() if not np.allclose(w, expected, rtol=1e-5, atol=1e-7)}
            hint = diagnose(run["parameters"], wrong) or (
                "zero the gradients, compute the mean loss with teacher forcing, "
                "backward, clip_grad_norm_ over all parameters, then step.")
            what = f"parameters after two train_step calls (B={B}, T={T}, max_norm={max_norm:g})"
            check_close(what, run["parameters"], expected, ("parameter entry",), hint)
            first = ref.sequence_cross_entropy(small_model(seed)(x)[0], y)[0].item()
            got_loss = run["losses"][0]
            got_loss = got_loss.numpy() if torch.is_tensor(got_loss) else got_loss
            hint = diagnose(got_loss, {"the loss summed over tokens instead of averaged": first * B * T})
            check_close("the loss returned by the first train_step call", got_loss, first, (),
                        hint or "return the mean loss (a float, loss.item()) computed before the update.")


# ---------------------------------------------------------------- sample
def _probs(c, T):
    return torch.softmax(torch.as_tensor(c, dtype=torch.float64) / T, -1).numpy()


def _ids(out, n):
    try:
        ids = np.asarray([int(v) for v in out])
    except (TypeError, ValueError):
        raise AssertionError(f"sample: expected a list of {n} ints, got {out!r:.100}.") from None
    if ids.shape != (n,):
        raise AssertionError(f"sample: expected {n} ids, got an array of shape {ids.shape}.")
    return ids


def judge_sample(got, check_close):
    c, n = SAMPLE_SCORES, SAMPLE_N
    V = len(c)
    for T, out in one_per_case(got["frequencies"], SAMPLE_TEMPERATURES, "sample"):
        out = _ids(out, n)
        freq = np.bincount(out, minlength=V)[:V] / n
        p = _probs(c, T)
        wrong = {"temperature applied to the probabilities after the softmax (this leaves the distribution "
                 "unchanged): divide the logits by the temperature": _probs(c, 1.0),
                 "logits multiplied by the temperature instead of divided": _probs(c, 1 / T),
                 "always the most likely id (argmax) instead of a random draw": np.eye(V)[np.argmax(c)]}
        tol = 5 * np.sqrt(p * (1 - p) / n) + 1e-3
        hint = ""
        for m, q in wrong.items():
            if np.abs(q - p).max() > 0.02 and np.all(np.abs(freq - q) <= 5 * np.sqrt(q * (1 - q) / n) + 1e-3):
                hint = f"your result matches {m}."
                break
        bad = np.abs(freq - p) > tol
        check_close(f"frequencies of {n} samples at temperature {T:g} (within 5 standard errors)",
                    np.where(bad, freq, p), p, ("id",),
                    hint or "draw each id from softmax(logits / temperature) with torch.multinomial(..., generator=generator).")
    # The sampled id must be fed back: with a strong bump the next id is usually the last one + 1.
    T, bump = FEEDBACK_TEMPERATURE, FEEDBACK_BUMP
    out = _ids(got["feedback"], n)
    prev = np.concatenate([FEEDBACK_START[-1:], out[:-1]])
    hits = (out == (prev + 1) % V)
    p_hit = np.array([_probs(c + bump * np.eye(V)[(q + 1) % V], T)[(q + 1) % V] for q in prev])
    sd = np.sqrt((p_hit * (1 - p_hit)).sum())
    ok = abs(hits.sum() - p_hit.sum()) <= 5 * sd
    check_close("share of steps that follow the model's favourite continuation of the previous sampled id",
                hits.mean() if not ok else p_hit.mean(), p_hit.mean(), (),
                "feed each sampled id back into the model (with the hidden state) to get the next logits; "
                "do not keep predicting from the start.")
    # The state must be passed on: the stand-in's favourite id is the number of ids it has read, mod V.
    out = _ids(got["state"], STATE_N)
    favourite = (len(STATE_START) + np.arange(STATE_N)) % V
    p_fav = np.array([_probs(c + STATE_BUMP * np.eye(V)[f], 1.0)[f] for f in favourite])
    hits = out == favourite
    ok = abs(hits.sum() - p_fav.sum()) <= 5 * np.sqrt((p_fav * (1 - p_fav)).sum())
    check_close("share of steps that follow a stand-in model whose scores depend on its hidden state",
                hits.mean() if not ok else p_fav.mean(), p_fav.mean(), (),
                "pass the state the model returned into the next call (logits, h = model(next_id, h)); "
                "a sampler that drops it restarts the model's memory at every step.")
    a, b = (_ids(out, REPEAT_N) for _, out in one_per_case(got["repeat"], range(2), "sample"))
    check_close("two samples with equally seeded generators", a.astype(float), b.astype(float),
                ("step",), "use the generator argument for every random draw (torch.multinomial(..., generator=generator)).")


# ---------------------------------------------------------------- rnn_output_shapes
def judge_rnn_output_shapes(got, check_close):
    for (B, T, D, H, L, bi), out in one_per_case(got, SHAPE_CASES, "rnn_output_shapes"):
        expected = ref.rnn_output_shapes(B, T, D, H, L, bi)
        if not isinstance(out, dict) or set(out) != {"output", "h_n"}:
            raise AssertionError("rnn_output_shapes: return a dict with the keys 'output' and 'h_n'.")
        k = 2 if bi else 1
        wrong_out = {"an output size of H for a bidirectional RNN (the two directions are concatenated: 2H)": (B, T, H),
                     "time-major output (T, B, ...) although batch_first=True": (T, B, k * H),
                     "an output size that grows with the number of layers": (B, T, L * k * H)}
        wrong_h = {"h_n with num_layers rows (a bidirectional RNN has num_layers * 2)": (L, B, H),
                   "h_n of size 2H per layer (h_n keeps the directions apart, H each)": (L, B, k * H),
                   "batch-first h_n (h_n is (layers * directions, B, H) even when batch_first=True)": (B, L * k, H)}
        what = f"nn.RNN({D}, {H}, num_layers={L}, batch_first=True, bidirectional={bi}) on B={B}, T={T}"
        for key, wrong in (("output", wrong_out), ("h_n", wrong_h)):
            g = tuple(int(v) for v in out[key])
            hint = next((f"your result matches {m}." for m, w in wrong.items()
                         if w != expected[key] and g == w), "")
            check_close(f"{what}: {key} shape", np.array(g), np.array(expected[key]), ("dimension",),
                        hint or "run a torch.nn.RNN with these settings on zeros and look at the shapes.", atol=0)
