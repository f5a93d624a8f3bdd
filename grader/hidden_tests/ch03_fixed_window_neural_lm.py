"""Hidden tests for the chapter 3 exercise (make_windows, embed, window_lm_forward, perplexity, train)."""
import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from grader.hidden_tests import diagnose, kind, one_per_case
from grader.probes.ch03_fixed_window_neural_lm import (SEEDS, TRAIN_TASK, embed_case, initial_train_params,
                                                       markov_text, perplexity_case, random_params, train_data,
                                                       upstream, window_cases)
from grader.reference import ch03_fixed_window_neural_lm as ref

WINDOW_AXES = ("window", "position")
EMBED_AXES = ("window", "feature")
LOGIT_AXES = ("window", "symbol")
TRAIN_TOLERANCE = 0.05  # relative to the true model's held-out perplexity


def _np(x):
    """A float numpy copy of a tensor (even one that requires grad), an array or a number."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError, RuntimeError):
        return x


def _diagnose(got, wrong):
    return diagnose(_np(got), {m: _np(w) for m, w in wrong.items()})


# --- Part A: make_windows -------------------------------------------------------------

def _as_pair(got, what):
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        raise AssertionError(f"{what}: expected a pair (contexts, targets), got {kind(got)}. "
                             "Hint: return contexts, targets.")
    for name, x in zip(("contexts", "targets"), got):
        if not isinstance(x, torch.Tensor):
            raise AssertionError(f"{what}: {name} is a {kind(x)}, expected a torch tensor. "
                                 "Hint: slice the tensor ids; do not convert it to a list or numpy.")
        if x.dtype != torch.long:
            raise AssertionError(f"{what}: {name} has dtype {x.dtype}, expected torch.long (int64), "
                                 "which embedding lookups need. Hint: slicing ids keeps its dtype.")
    return got


def _count_hint(got_n, ids, window):
    right = len(ids) - window
    if got_n == right + 1:
        return (f"one window too many ({got_n} instead of len(ids) - window = {right}): the last window "
                "has no next symbol to predict.")
    if got_n == right - 1:
        return f"one window too few ({got_n} instead of len(ids) - window = {right}): the last symbol is a target too."
    return f"there is one window per target: len(ids) - window = {right} of them."


def window_mistakes(ids, window):
    """Known wrong (contexts, targets) as students write them."""
    contexts, targets = ref.make_windows(ids, window)
    wrong_contexts = {
        "contexts shifted by one: each window ends with its own target (ids[i+1:i+window+1])":
            ids.unfold(0, window, 1)[1:],
        "windows in reversed order (newest symbol first); keep the text order, oldest first":
            contexts.flip(1),
    }
    wrong_targets = {
        "a target inside its own context: targets[i] = ids[i+window-1] is the last symbol of the window, "
        "not the next one": ids[window - 1:-1],
        "targets taken from the start of each window (ids[i]) instead of the symbol after it": ids[:-window],
    }
    return wrong_contexts, wrong_targets


def judge_make_windows(got, check_close):
    for (ids, window), out in one_per_case(got, window_cases(), "make_windows"):
        what = f"make_windows(ids of length {len(ids)}, window={window})"
        contexts, targets = _as_pair(out, what)
        right_c, right_t = ref.make_windows(ids, window)
        wrong_c, wrong_t = window_mistakes(ids, window)
        hint = _diagnose(contexts, wrong_c) or (
            _count_hint(contexts.shape[0], ids, window) if contexts.ndim == 2 and contexts.shape[0] != right_c.shape[0]
            else "contexts[i] must be ids[i:i+window], the window symbols in text order.")
        check_close(f"{what}: contexts", contexts, right_c, WINDOW_AXES, hint)
        hint = _diagnose(targets, wrong_t) or (
            _count_hint(targets.shape[0], ids, window) if targets.ndim == 1 and targets.shape[0] != right_t.shape[0]
            else "targets[i] must be ids[i+window], the symbol right after window i.")
        check_close(f"{what}: targets", targets, right_t, ("window",), hint)


# --- Part B: embed --------------------------------------------------------------------

def embed_mistakes(contexts, E):
    N, n = contexts.shape
    looked_up = E[contexts]  # (N, n, d)
    return {
        "the window in reverse order (newest symbol first); concatenate e_1 (oldest) first":
            E[contexts.flip(1)].reshape(N, -1),
        "features interleaved across positions (a transpose before the reshape); concatenate whole "
        "embedding vectors, position after position": looked_up.transpose(1, 2).reshape(N, -1),
        "the embeddings summed over the window instead of concatenated": looked_up.sum(1),
        "the embeddings averaged over the window instead of concatenated": looked_up.mean(1),
        "only the last symbol's embedding; concatenate all n of them": looked_up[:, -1],
    }


def judge_embed(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "embed"):
        contexts, E = embed_case(seed)
        (N, n), (V, d) = contexts.shape, E.shape
        if not (isinstance(out, dict) and {"embedding", "requires_grad"} <= set(out)):
            raise AssertionError("embed: the grader did not receive the probe's result.")
        embedding = out["embedding"]
        hint = _diagnose(embedding, embed_mistakes(contexts, E)) or \
            "row i must be [E[c_1]; E[c_2]; ...; E[c_n]] for the window c = contexts[i], shape (N, n*d)."
        check_close(f"embed on a random case (N, n, V, d = {N}, {n}, {V}, {d})", embedding, ref.embed(contexts, E),
                    EMBED_AXES, hint)
        if out["requires_grad"] is not True or out.get("E_grad") is None:
            raise AssertionError("embed: the values are right, but the result is not connected to E, so the "
                                 "embeddings could never be trained. Hint: index the tensor E with torch "
                                 "(E[contexts]) instead of going through numpy or a detached copy.")
        leaf = E.detach().double().requires_grad_()
        (ref.embed(contexts, leaf) * upstream(seed, (N, n * d))).sum().backward()
        check_close(f"embed on a random case: the gradient that reaches E (V, d = {V}, {d})", out["E_grad"],
                    leaf.grad, ("symbol", "feature"),
                    "the result must be computed from E itself (E[contexts]), so that training moves the "
                    "rows of E that the windows use, and only those.")


# --- Part C: window_lm_forward ---------------------------------------------------------

def forward_mistakes(contexts, params):
    e = ref.embed(contexts, params["E"])
    a = e @ params["W"].T + params["b1"]
    U, b2 = params["U"], params["b2"]
    logits = torch.tanh(a) @ U.T + b2
    return {
        "a hidden layer without tanh (the tanh is missing)": a @ U.T + b2,
        "a sigmoid where the hidden layer uses tanh": torch.sigmoid(a) @ U.T + b2,
        "a ReLU where the hidden layer uses tanh": torch.relu(a) @ U.T + b2,
        "probabilities (a softmax applied): return the logits U h + b2; the loss applies the softmax":
            torch.softmax(logits, dim=1),
        "log-probabilities (log_softmax applied): return the raw logits U h + b2":
            torch.log_softmax(logits, dim=1),
        "a missing hidden bias b1": torch.tanh(e @ params["W"].T) @ U.T + b2,
        "a missing output bias b2": torch.tanh(a) @ U.T,
        "the window embedded in reverse order": torch.tanh(
            ref.embed(contexts.flip(1), params["E"]) @ params["W"].T + params["b1"]) @ U.T + b2,
    }


def judge_window_lm_forward(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "window_lm_forward"):
        params, contexts = random_params(seed)
        with torch.no_grad():
            expected = ref.window_lm_forward(contexts, params)
            wrong = forward_mistakes(contexts, params)
        hint = _diagnose(out, wrong) or "logits = tanh(e W^T + b1) U^T + b2 with e = embed(contexts, E)."
        V, H = params["U"].shape
        check_close(f"window_lm_forward on a random case (N, n, V, H = {contexts.shape[0]}, "
                    f"{contexts.shape[1]}, {V}, {H})", out, expected, LOGIT_AXES, hint, atol=1e-5)


# --- Part D: perplexity -----------------------------------------------------------------

def perplexity_mistakes(logits, targets):
    ce = F.cross_entropy(logits, targets, reduction="none")
    return {
        "the mean of per-window perplexities exp(loss_i); perplexity is exp of the MEAN cross-entropy":
            torch.exp(ce).mean(),
        "the cross-entropy itself (the exp is missing)": ce.mean(),
        "a softmax applied before F.cross_entropy, which applies its own (softmax twice)":
            torch.exp(F.cross_entropy(torch.softmax(logits, dim=1), targets)),
        "2 ** (cross-entropy in nats): the natural log needs exp, not a power of 2": 2 ** ce.mean(),
        "exp of the summed cross-entropy instead of the mean": torch.exp(ce.sum()),
    }


def judge_perplexity(got, check_close):
    for seed, out in one_per_case(got, SEEDS, "perplexity"):
        logits, targets = perplexity_case(seed)
        N, V = logits.shape
        expected = ref.perplexity(logits, targets)
        hint = _diagnose(out, perplexity_mistakes(logits, targets)) or \
            "exp of the mean over the windows of -log softmax(logits)[target]."
        check_close(f"perplexity on random logits (N = {N}, V = {V})", out, expected, (), hint)


# --- Part E: train ----------------------------------------------------------------------

def markov_task(task=TRAIN_TASK):
    """The probe's training windows, the held-out windows after them, and the true model's perplexity on those.

    A window of 2 sees everything the next symbol depends on, so a trained model can come
    as close as its data allow to the true model's perplexity: the known answer.
    """
    source, ids = markov_text(**task)
    held_c, held_t = ref.make_windows(ids[task["n_train"]:], task["window"])
    P = torch.tensor(source.P)
    best = math.exp(-torch.log(P[held_c[:, -2], held_c[:, -1], held_t]).mean().item())
    return train_data(task), (held_c, held_t), best


def _train_variant(params, contexts, targets, steps, lr, zero_grad=True, probabilities=False,
                   new_optimizer_each_step=False, sgd=False):
    """The reference loop, optionally with one of the catalogued mistakes."""
    make = (lambda: torch.optim.SGD(params.values(), lr=lr)) if sgd else \
        (lambda: torch.optim.Adam(params.values(), lr=lr))
    opt = make()
    out = []
    for _ in range(steps):
        if new_optimizer_each_step:
            opt = make()
        scores = ref.window_lm_forward(contexts, params)
        if probabilities:
            scores = torch.softmax(scores, dim=1)
        ce = F.cross_entropy(scores, targets)
        if zero_grad:
            opt.zero_grad()
        ce.backward()
        opt.step()
        out.append(ce.item())
    return out


TRAIN_MISTAKES = {
    "gradients accumulating over the steps: they are never zeroed, so each step uses the sum of all "
    "past gradients (call zero_grad() on the optimizer before backward())": dict(zero_grad=False),
    "a cross-entropy computed on probabilities: F.cross_entropy expects logits and applies its own "
    "softmax, so do not apply one yourself": dict(probabilities=True),
    "a new optimizer created at every step: Adam's running averages restart each time; create it once, "
    "before the loop": dict(new_optimizer_each_step=True),
    "plain SGD instead of Adam (use torch.optim.Adam(params.values(), lr=lr))": dict(sgd=True),
}


@lru_cache(maxsize=None)
def reference_run(task_items=tuple(sorted(TRAIN_TASK.items()))):
    """The reference loop from the probe's start: (losses, final parameters); computed once per process."""
    task = dict(task_items)
    contexts, targets = train_data(task)
    params = initial_train_params(task)
    losses = ref.train(params, contexts, targets, task["steps"], task["lr"])
    return losses, {k: v.detach() for k, v in params.items()}


def train_diagnosis(losses, contexts, targets, task=TRAIN_TASK, compare=30):
    """Name the catalogued mistake whose loss curve the student's reproduces, or ''."""
    k = min(compare, len(losses))
    for mistake, kw in TRAIN_MISTAKES.items():
        wrong = _train_variant(initial_train_params(task), contexts, targets, k, task["lr"], **kw)
        if k and np.allclose(losses[:k], wrong, rtol=1e-3, atol=1e-4):
            return f"your loss curve matches {mistake}."
    return ""


def _trained_params(params, before, what):
    """The parameter tensors train left in its dict, as tensors of the initial dtype and shapes."""
    if isinstance(params, dict) and set(params) == set(before):
        out = {}
        for k, v in params.items():
            if isinstance(v, (torch.Tensor, np.ndarray)) and tuple(v.shape) == tuple(before[k].shape):
                out[k] = torch.as_tensor(v).to(before[k].dtype)
        if len(out) == len(before):
            return out
    raise AssertionError(f"{what}: after training, params must still hold the tensors {', '.join(before)} "
                         "with their shapes. Hint: update them in place with the optimizer; do not replace, "
                         "remove or add entries.")


def judge_train(got, check_close):
    task = TRAIN_TASK
    (contexts, targets), (held_c, held_t), best = markov_task(task)
    steps = task["steps"]
    with torch.no_grad():
        initial_loss = F.cross_entropy(ref.window_lm_forward(contexts, initial_train_params(task)), targets).item()
    before = {k: v.detach() for k, v in initial_train_params(task).items()}
    what = (f"train(params, contexts, targets, steps={steps}, lr={task['lr']}) on a second-order Markov source "
            f"({len(targets)} windows of width {task['window']})")
    if not (isinstance(got, dict) and {"losses", "params"} <= set(got)):
        raise AssertionError("train: the grader did not receive the probe's result.")
    losses = got["losses"]
    try:
        losses = [float(x) for x in losses]
    except (TypeError, ValueError, RuntimeError):
        raise AssertionError(f"{what}: expected a list of {steps} losses, got {kind(losses)}. "
                             "Hint: append loss.item() at every step and return the list.") from None
    if len(losses) != steps:
        raise AssertionError(f"{what}: returned {len(losses)} losses, expected one per step ({steps}).")
    params = _trained_params(got["params"], before, what)
    if all(torch.equal(before[k], v) for k, v in params.items()):
        raise AssertionError(f"{what}: the tensors in params did not change. Hint: optimise them in place, "
                             "torch.optim.Adam(params.values(), lr=lr), rather than copies or new tensors.")
    diagnosis = None

    def diagnosed():
        nonlocal diagnosis
        if diagnosis is None:
            diagnosis = train_diagnosis(losses, contexts, targets, task)
        return diagnosis

    first_hint = "the loss of the initial parameters, measured before the first update, as a float."
    if not np.isclose(losses[0], initial_loss, rtol=1e-4, atol=1e-5):
        if np.isclose(losses[0], initial_loss * len(targets), rtol=1e-4):
            first_hint = "the summed loss over the windows: use the mean (F.cross_entropy's default)."
        else:
            first_hint = diagnosed() or first_hint
    check_close(f"{what}: losses[0]", losses[0], initial_loss, (), first_hint, atol=1e-5)
    right_losses, right_params = reference_run()
    loop_hint = (f"the exercise's loop, from the given start: Adam(params.values(), lr=lr) created once, then at "
                 f"each of the {steps} steps the mean cross-entropy of the logits, zero_grad, backward, step, "
                 "and loss.item() appended (another optimizer, learning rate or number of steps gives other losses).")
    check_close(f"{what}: the losses of every step, against the exercise's loop from the same start", losses,
                right_losses, ("step",), diagnosed() or loop_hint, atol=1e-4)
    for name, value in params.items():
        check_close(f"{what}: {name} after training, against the exercise's loop from the same start", value,
                    right_params[name], ("row", "column")[:right_params[name].ndim], diagnosed() or loop_hint,
                    atol=1e-3)
    with torch.no_grad():
        got_ppl = ref.perplexity(ref.window_lm_forward(held_c, params), held_t).item()
    tolerance = TRAIN_TOLERANCE * best
    hint = (diagnosed() if abs(got_ppl - best) > tolerance else "") or \
        (f"full-batch Adam with the given lr: at each step compute the mean cross-entropy of the logits, "
         f"zero the gradients, backpropagate, step; the true model scores {best:.3f} and the test accepts "
         f"up to {best + tolerance:.3f}.")
    check_close(f"{what}: held-out perplexity after training (the true model's is {best:.3f})",
                got_ppl, best, (), hint, atol=tolerance)
