"""Chapter 3, "Fixed-window neural language models": the model of Bengio et al. (2003) in torch.

Shapes: ``ids`` is a 1-D ``torch.long`` tensor of symbol indices; a window model of width
``n`` reads ``contexts`` (N, n), oldest symbol first, and predicts ``targets`` (N,).
The parameters are a dict of tensors named as in the chapter's equations,

    e = [E[x_1]; ...; E[x_n]]          (N, n*d)  concatenated embeddings
    h = tanh(e W^T + b1)               (N, H)    hidden layer
    logits = h U^T + b2                (N, V)    softmax(logits) = P(next symbol | window)

with ``E`` (V, d), ``W`` (H, n*d), ``b1`` (H,), ``U`` (V, H), ``b2`` (V,).
"""
import torch
import torch.nn.functional as F

from grader.probes.ch03_fixed_window_neural_lm import init_params  # noqa: F401  (the notebook's given code)


def make_windows(ids, window):
    """Every (context, next symbol) pair: ``contexts[i] = ids[i:i+window]``, ``targets[i] = ids[i+window]``."""
    contexts = ids.unfold(0, window, 1)[:-1]
    return contexts, ids[window:]


def embed(contexts, E):
    """Concatenated embeddings (N, n*d): row i is [E[c_1]; ...; E[c_n]] for the window c = contexts[i].

    Equal to one_hot(contexts) @ E, reshaped; differentiable with respect to E.
    """
    return E[contexts].reshape(contexts.shape[0], -1)


def window_lm_forward(contexts, params):
    """Logits (N, V) of the next symbol after each window of ``contexts`` (N, n)."""
    e = embed(contexts, params["E"])
    h = torch.tanh(e @ params["W"].T + params["b1"])
    return h @ params["U"].T + params["b2"]


def perplexity(logits, targets):
    """exp of the mean cross-entropy (nats) of integer ``targets`` (N,) under ``logits`` (N, V)."""
    return torch.exp(F.cross_entropy(logits, targets))


def train(params, contexts, targets, steps, lr):
    """Full-batch Adam on the mean cross-entropy, updating ``params`` in place.

    Returns the list of ``steps`` training losses (floats), each measured before its update.
    """
    optimizer = torch.optim.Adam(params.values(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(window_lm_forward(contexts, params), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def n_params(V, d, n, H):
    """Parameters of the window model: E, W, b1, U, b2."""
    return V * d + H * n * d + H + V * H + V
