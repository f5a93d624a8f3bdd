"""Hidden tests for the chapter 5 exercise (make_batches, sequence_cross_entropy, train_step, sample,
rnn_output_shapes)."""
import numpy as np
import torch

from grader.hidden_tests import diagnose, use_reference_parts
from grader.reference import ch05_training_rnn_language_models as ref

SEEDS = (501, 502, 503)


def _np(x):
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


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


def test_make_batches(make_batches, check_close):
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        seq_len = int(rng.integers(3, 8))
        N = int(rng.integers(4, 9)) * seq_len + int(rng.integers(0, seq_len))  # often not a multiple
        ids = torch.from_numpy(rng.integers(0, 50, size=N))
        got = make_batches(ids.clone(), seq_len)
        x, y = ref.make_batches(ids, seq_len)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise AssertionError(f"make_batches: expected a pair (inputs, targets), got {type(got).__name__}.")
        gx, gy = (_np(g) for g in got)
        for mistake, (wx, wy) in batch_mistakes(ids, seq_len).items():
            if gx.shape == tuple(wx.shape) and gy.shape == tuple(wy.shape) and \
                    np.array_equal(gx, _np(wx)) and np.array_equal(gy, _np(wy)):
                hint = f"your result matches {mistake}."
                break
        else:
            hint = "window k is inputs ids[k*L:(k+1)*L] and targets ids[k*L+1:(k+1)*L+1]; drop the incomplete tail."
        what = f"make_batches on a stream of {N} ids with seq_len {seq_len}"
        check_close(what + ": inputs", gx, _np(x), ("window", "position"), hint, atol=0)
        check_close(what + ": targets", gy, _np(y), ("window", "position"), hint, atol=0)


# ---------------------------------------------------------------- sequence_cross_entropy
def test_sequence_cross_entropy(sequence_cross_entropy, check_close):
    for seed in SEEDS:
        g = torch.Generator().manual_seed(seed)
        B, T, V = (int(v) for v in torch.randint(2, 7, (3,), generator=g))
        for scale in (1.0, 1000.0):
            logits = scale * torch.randn(B, T, V, generator=g, dtype=torch.float64)
            targets = torch.randint(0, V, (B, T), generator=g)
            got = sequence_cross_entropy(logits.clone(), targets.clone())
            loss, ppl = ref.sequence_cross_entropy(logits, targets)
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                raise AssertionError("sequence_cross_entropy: expected a pair (loss, perplexity).")
            got_loss, got_ppl = (_np(v) for v in got)
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
def small_model(seed, V=7, E=5, H=6, num_layers=1):
    torch.manual_seed(seed)
    return ref.CharRNN(V, E, H, num_layers).double()


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
    return torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()


TRAIN_MISTAKES = {
    "gradients clipped per parameter instead of by the global norm of all of them": "per parameter",
    "gradients clipped by value instead of by their global norm": "clip by value",
    "no gradient clipping": "no clipping",
    "the loss summed over tokens instead of averaged": "sum",
    "a missing optimizer.zero_grad() (gradients accumulate across steps)": "no zero_grad",
    "targets equal to the inputs": "untargeted",
    "a missing optimizer.step() (parameters never change)": "no step",
}


def test_train_step(train_step, check_close, namespace):
    use_reference_parts(namespace, sequence_cross_entropy=ref.sequence_cross_entropy)
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        B, T = int(rng.integers(2, 5)), int(rng.integers(3, 7))
        x = torch.from_numpy(rng.integers(0, 7, size=(B, T)))
        y = torch.from_numpy(rng.integers(0, 7, size=(B, T)))
        # clipping active (small max_norm) and inactive (large max_norm); two steps to expose accumulation
        for max_norm, lr in ((0.05, 0.5), (1e6, 0.3)):
            model = small_model(seed)
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            losses = [train_step(model, opt, x.clone(), y.clone(), max_norm) for _ in range(2)]
            got = torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()
            expected = _variant(seed, x, y, max_norm, lr, 2, "right")
            wrong = {m: _variant(seed, x, y, max_norm, lr, 2, k) for m, k in TRAIN_MISTAKES.items()}
            wrong = {m: w for m, w in wrong.items() if not np.allclose(w, expected, rtol=1e-5, atol=1e-7)}
            hint = diagnose(got, wrong) or ("zero the gradients, compute the mean loss with teacher forcing, "
                                            "backward, clip_grad_norm_ over all parameters, then step.")
            what = f"parameters after two train_step calls (B={B}, T={T}, max_norm={max_norm:g})"
            check_close(what, got, expected, ("parameter entry",), hint)
            model = small_model(seed)
            first = _loss(model, x, y).item()
            got_loss = losses[0].detach().numpy() if torch.is_tensor(losses[0]) else losses[0]
            hint = diagnose(got_loss, {"the loss summed over tokens instead of averaged": first * B * T})
            check_close("the loss returned by the first train_step call", got_loss, first, (),
                        hint or "return the mean loss (a float, loss.item()) computed before the update.")


# ---------------------------------------------------------------- sample
class FixedModel(torch.nn.Module):
    """A stand-in language model: logits = c + bump * onehot((last id + 1) mod V), whatever the state."""

    def __init__(self, c, bump):
        super().__init__()
        self.c, self.bump = torch.as_tensor(c, dtype=torch.float32), bump

    def forward(self, ids, h=None):
        V = len(self.c)
        logits = self.c + self.bump * torch.nn.functional.one_hot((ids + 1) % V, V).float()
        return logits, (torch.zeros(1, ids.shape[0], 1) if h is None else h + ids.shape[1])


def _probs(c, T):
    return torch.softmax(torch.as_tensor(c, dtype=torch.float64) / T, -1).numpy()


def test_sample(sample, check_close):
    c = np.array([2.0, 1.0, 0.0, -1.0, 0.5])
    V, n = len(c), 3000
    for seed, T in zip(SEEDS, (0.5, 1.0, 2.0)):
        out = sample(FixedModel(c, 0.0), [0, 1], n, T, torch.Generator().manual_seed(seed))
        out = np.asarray([int(v) for v in out])
        if out.shape != (n,):
            raise AssertionError(f"sample: expected {n} ids, got an array of shape {out.shape}.")
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
    T, bump = 1.0, 3.0
    out = np.asarray([int(v) for v in sample(FixedModel(c, bump), [3], n, T,
                                                 torch.Generator().manual_seed(SEEDS[0]))])
    prev = np.concatenate([[3], out[:-1]])
    hits = (out == (prev + 1) % V)
    p_hit = np.array([_probs(c + bump * np.eye(V)[(q + 1) % V], T)[(q + 1) % V] for q in prev])
    sd = np.sqrt((p_hit * (1 - p_hit)).sum())
    ok = abs(hits.sum() - p_hit.sum()) <= 5 * sd
    check_close("share of steps that follow the model's favourite continuation of the previous sampled id",
                hits.mean() if not ok else p_hit.mean(), p_hit.mean(), (),
                "feed each sampled id back into the model (with the hidden state) to get the next logits; "
                "do not keep predicting from the start.")
    a = sample(FixedModel(c, 0.0), [0], 50, 1.0, torch.Generator().manual_seed(7))
    b = sample(FixedModel(c, 0.0), [0], 50, 1.0, torch.Generator().manual_seed(7))
    check_close("two samples with equally seeded generators", np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                ("step",), "use the generator argument for every random draw (torch.multinomial(..., generator=generator)).")


# ---------------------------------------------------------------- rnn_output_shapes
def test_rnn_output_shapes(rnn_output_shapes, check_close):
    cases = [(3, 5, 4, 6, 2, True), (2, 7, 3, 5, 3, True), (4, 2, 6, 3, 1, False), (1, 4, 2, 5, 2, False)]
    for B, T, D, H, L, bi in cases:
        got = rnn_output_shapes(B, T, D, H, L, bi)
        expected = ref.rnn_output_shapes(B, T, D, H, L, bi)
        if not isinstance(got, dict) or set(got) != {"output", "h_n"}:
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
            g = tuple(int(v) for v in got[key])
            hint = next((f"your result matches {m}." for m, w in wrong.items()
                         if w != expected[key] and g == w), "")
            check_close(f"{what}: {key} shape", np.array(g), np.array(expected[key]), ("dimension",),
                        hint or "run a torch.nn.RNN with these settings on zeros and look at the shapes.", atol=0)
