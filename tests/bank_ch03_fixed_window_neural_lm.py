"""Realistic wrong answers to the chapter 3 exercise: each loses one part, and the feedback names why.

Each entry: the code a student might write for one solution cell, the test cell that
must fail (and only it), and words the failure message must contain.
"""
from submission_bank import Mistake

WINDOWS = "def make_windows(ids, window):\n{body}\n    return contexts, targets\n"
EMBED = "def embed(contexts, E):\n    return {}\n"
FORWARD = '''def window_lm_forward(contexts, params):
    e = embed(contexts, params["E"])
{body}
'''
PERPLEXITY = "def perplexity(logits, targets):\n    return {}\n"
TRAIN = '''def train(params, contexts, targets, steps, lr):
    optimizer = torch.optim.Adam(params.values(), lr=lr)
    losses = []
    for _ in range(steps):
{body}
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
'''

MISTAKES = {
    "target_inside_the_context": Mistake(
        "make_windows", WINDOWS.format(body="    contexts = ids.unfold(0, window, 1)[:-1]\n"
                                            "    targets = ids[window - 1:-1]"),
        "test_make_windows", "target inside its own context"),
    "context_shifted_by_one": Mistake(
        "make_windows", WINDOWS.format(body="    contexts = torch.stack([ids[i + 1:i + window + 1] "
                                            "for i in range(len(ids) - window)])\n"
                                            "    targets = ids[window:]"),
        "test_make_windows", "contexts shifted by one"),
    "one_window_too_many": Mistake(
        "make_windows", WINDOWS.format(body="    contexts = ids.unfold(0, window, 1)\n"
                                            "    targets = ids[window - 1:]"),
        "test_make_windows", "one window too many"),
    "reversed_window": Mistake(
        "embed", EMBED.format("E[contexts.flip(1)].reshape(len(contexts), -1)"),
        "test_embed", "reverse order"),
    "interleaved_features": Mistake(
        "embed", EMBED.format("E[contexts].transpose(1, 2).reshape(len(contexts), -1)"),
        "test_embed", "features interleaved"),
    "summed_embeddings": Mistake(
        "embed", EMBED.format("E[contexts].sum(dim=1)"),
        "test_embed", "summed over the window"),
    # right for every batch but the boundary one, a single window, where squeeze drops the batch axis
    "squeezed_embedding": Mistake(
        "embed", EMBED.format("E[contexts].reshape(len(contexts), -1).squeeze()"),
        "test_embed", "got shape ("),
    "missing_tanh": Mistake(
        "window_lm_forward", FORWARD.format(body='    h = e @ params["W"].T + params["b1"]\n'
                                                 '    return h @ params["U"].T + params["b2"]'),
        "test_window_lm_forward", "tanh is missing"),
    "softmax_output": Mistake(
        "window_lm_forward", FORWARD.format(body='    h = torch.tanh(e @ params["W"].T + params["b1"])\n'
                                                 '    return torch.softmax(h @ params["U"].T + params["b2"], dim=1)'),
        "test_window_lm_forward", "probabilities (a softmax applied)"),
    "mean_of_perplexities": Mistake(
        "perplexity", PERPLEXITY.format('torch.exp(F.cross_entropy(logits, targets, reduction="none")).mean()'),
        "test_perplexity", "mean of per-window perplexities"),
    "softmax_twice": Mistake(
        "perplexity", PERPLEXITY.format("torch.exp(F.cross_entropy(torch.softmax(logits, dim=1), targets))"),
        "test_perplexity", "softmax twice"),
    "no_zero_grad": Mistake(
        "train", TRAIN.format(body="        loss = F.cross_entropy(window_lm_forward(contexts, params), targets)"),
        "test_train", "never zeroed"),
    "cross_entropy_on_probabilities": Mistake(
        "train", TRAIN.format(body="        probs = torch.softmax(window_lm_forward(contexts, params), dim=1)\n"
                                   "        loss = F.cross_entropy(probs, targets)\n"
                                   "        optimizer.zero_grad()"),
        "test_train", "computed on probabilities"),
}
