"""Chapter 5, "Training recurrent language models": batches, loss, one training step, sampling, shapes.

A character language model reads ids ``x_1..x_T`` and is trained to predict ``x_2..x_{T+1}``
(teacher forcing: the true previous character is always fed in). ``logits`` are (B, T, V),
``targets`` are (B, T) integer ids; losses are in nats per token.
"""
import torch

from grader.probes.ch05_training_rnn_language_models import CharRNN  # noqa: F401  (the notebook's given model)


def make_batches(ids, seq_len):
    """Non-overlapping windows of a stream: inputs ``ids[k L:(k+1) L]``, targets shifted by one."""
    ids = torch.as_tensor(ids)
    n = (len(ids) - 1) // seq_len
    return ids[:n * seq_len].reshape(n, seq_len), ids[1:n * seq_len + 1].reshape(n, seq_len)


def sequence_cross_entropy(logits, targets):
    """Mean cross-entropy per token (nats) and its perplexity exp(loss), via log-sum-exp."""
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    loss = -log_probs.gather(-1, targets.unsqueeze(-1)).mean()
    return loss, torch.exp(loss)


def train_step(model, optimizer, inputs, targets, max_norm):
    """One teacher-forced step: zero grads, loss, backward, clip the global gradient norm, update."""
    optimizer.zero_grad()
    logits, _ = model(inputs)
    loss, _ = sequence_cross_entropy(logits, targets)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return loss.item()


def sample(model, start, n, temperature, generator):
    """``n`` ids drawn one at a time from softmax(logits / temperature), each fed back in."""
    out = []
    with torch.no_grad():
        logits, h = model(torch.tensor([list(start)]))
        for _ in range(n):
            p = torch.softmax(logits[0, -1] / temperature, dim=-1)
            nxt = torch.multinomial(p, 1, generator=generator)
            out.append(int(nxt))
            logits, h = model(nxt.view(1, 1), h)
    return out


def rnn_output_shapes(B, T, D, H, num_layers, bidirectional):
    """Shapes of ``output`` and ``h_n`` of ``nn.RNN(D, H, num_layers, batch_first=True, bidirectional)``."""
    directions = 2 if bidirectional else 1
    return {"output": (B, T, directions * H), "h_n": (num_layers * directions, B, H)}
