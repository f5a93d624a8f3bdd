"""Realistic wrong answers to the chapter 5 exercise: each loses one part, and the feedback names why.

Each entry: the code a student might write for one solution cell, the test cell that
must fail (and only it), and words the failure message must contain.
"""
from submission_bank import Mistake

BATCHES = '''def make_batches(ids, seq_len):
    ids = torch.as_tensor(ids)
    n = (len(ids) - 1) // seq_len
{body}
'''
CE = '''def sequence_cross_entropy(logits, targets):
{body}
'''
STEP = '''def train_step(model, optimizer, inputs, targets, max_norm):
{zero}    logits, _ = model(inputs)
    loss, _ = sequence_cross_entropy(logits, targets)
    loss.backward()
{clip}
    optimizer.step()
    return loss.item()
'''
SAMPLE = '''def sample(model, start, n, temperature, generator):
    out = []
    with torch.no_grad():
        logits, h = model(torch.tensor([list(start)]))
        for _ in range(n):
{draw}
            nxt = torch.multinomial(p, 1, generator=generator)
            out.append(int(nxt))
            logits, h = model(nxt.view(1, 1), h)
    return out
'''
SHAPES = '''def rnn_output_shapes(B, T, D, H, num_layers, bidirectional):
    k = 2 if bidirectional else 1
    return {{"output": {out}, "h_n": {h}}}
'''

MISTAKES = {
    # fails only when the stream's length is an exact multiple of seq_len: the last target is missing
    "one_window_too_many_at_an_exact_multiple": Mistake(
        "make_batches", "def make_batches(ids, seq_len):\n    ids = torch.as_tensor(ids)\n"
                        "    n = len(ids) // seq_len\n"
                        "    return ids[:n * seq_len].reshape(n, seq_len), ids[1:n * seq_len + 1].reshape(n, seq_len)\n",
        "test_make_batches", "is invalid for input of size"),
    "targets_not_shifted": Mistake(
        "make_batches", BATCHES.format(body="    x = ids[:n * seq_len].reshape(n, seq_len)\n    return x, x.clone()"),
        "test_make_batches", "not shifted"),
    "overlapping_windows": Mistake(
        "make_batches", BATCHES.format(body="    x = torch.stack([ids[i:i + seq_len] for i in range(n)])\n"
                                            "    y = torch.stack([ids[i + 1:i + seq_len + 1] for i in range(n)])\n"
                                            "    return x, y"),
        "test_make_batches", "overlapping windows"),
    "summed_loss": Mistake(
        "sequence_cross_entropy",
        CE.format(body="    lp = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1))\n"
                       "    loss = -lp.sum()\n    return loss, loss.exp()"),
        "test_sequence_cross_entropy", "sum over tokens"),
    "unstable_softmax": Mistake(
        "sequence_cross_entropy",
        CE.format(body="    p = torch.exp(logits) / torch.exp(logits).sum(-1, keepdim=True)\n"
                       "    loss = -torch.log(p.gather(-1, targets.unsqueeze(-1))).mean()\n    return loss, loss.exp()"),
        "test_sequence_cross_entropy", "log-sum-exp"),
    "per_parameter_clipping": Mistake(
        "train_step", STEP.format(zero="    optimizer.zero_grad()\n",
                                  clip="    for p in model.parameters():\n"
                                       "        torch.nn.utils.clip_grad_norm_([p], max_norm)"),
        "test_train_step", "clipped per parameter"),
    "forgot_zero_grad": Mistake(
        "train_step", STEP.format(zero="", clip="    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)"),
        "test_train_step", "zero_grad"),
    "temperature_after_softmax": Mistake(
        "sample", SAMPLE.format(draw="            p = torch.softmax(logits[0, -1], dim=-1) / temperature"),
        "test_sample", "after the softmax"),
    "temperature_multiplied": Mistake(
        "sample", SAMPLE.format(draw="            p = torch.softmax(logits[0, -1] * temperature, dim=-1)"),
        "test_sample", "multiplied by the temperature"),
    "sample_drops_the_state": Mistake(
        "sample", SAMPLE.format(draw="            p = torch.softmax(logits[0, -1] / temperature, dim=-1)").replace(
            "model(nxt.view(1, 1), h)", "model(nxt.view(1, 1))"),
        "test_sample", "depend on its hidden state"),
    "bidirectional_output_size_H": Mistake(
        "rnn_output_shapes", SHAPES.format(out="(B, T, H)", h="(num_layers * k, B, H)"),
        "test_rnn_output_shapes", "2H"),
    "h_n_without_directions": Mistake(
        "rnn_output_shapes", SHAPES.format(out="(B, T, k * H)", h="(num_layers, B, H)"),
        "test_rnn_output_shapes", "num_layers * 2"),
}
