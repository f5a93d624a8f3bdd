"""The chapter 5 reference against brute force and torch, and the hidden tests against the reference."""
import itertools
import re

import numpy as np
import pytest
import torch

from counting import counted
from grader.course import SOLUTIONS
from grader.hidden_tests import ch05_training_rnn_language_models as hidden
from grader.hidden_tests import check_part
from grader.probes import ch05_training_rnn_language_models as probes
from grader.reference import ch05_training_rnn_language_models as ref
from submission_bank import setup_namespace

A = "ch05_training_rnn_language_models"


@pytest.fixture(scope="module")
def setup():
    return setup_namespace(SOLUTIONS, A)


@pytest.fixture(scope="module")
def check_close(setup):
    return setup["check_close"]


@pytest.mark.parametrize("N,L", [(10, 3), (11, 3), (12, 3), (7, 1), (30, 7)])
def test_make_batches_matches_a_loop(N, L):
    ids = torch.arange(100, 100 + N)
    x, y = ref.make_batches(ids, L)
    pairs = [(ids[i].item(), ids[i + 1].item()) for i in range(((N - 1) // L) * L)]
    assert x.shape == y.shape == ((N - 1) // L, L)
    assert list(zip(x.flatten().tolist(), y.flatten().tolist())) == pairs


@pytest.mark.parametrize("scale", [1.0, 30.0, 1000.0])
def test_sequence_cross_entropy_matches_torch_and_stays_finite(scale):
    g = torch.Generator().manual_seed(0)
    logits = scale * torch.randn(3, 4, 5, generator=g, dtype=torch.float64)
    targets = torch.randint(0, 5, (3, 4), generator=g)
    loss, ppl = ref.sequence_cross_entropy(logits, targets)
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, 5), targets.reshape(-1))
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(ppl, torch.exp(expected))


def test_train_step_is_sgd_on_the_globally_clipped_gradient():
    torch.manual_seed(0)
    model = ref.CharRNN(6, 4, 5).double()
    x, y = torch.randint(0, 6, (3, 5)), torch.randint(0, 6, (3, 5))
    before = [p.detach().clone() for p in model.parameters()]
    twin = ref.CharRNN(6, 4, 5).double()
    twin.load_state_dict(model.state_dict())
    logits, _ = twin(x)
    torch.nn.functional.cross_entropy(logits.reshape(-1, 6), y.reshape(-1)).backward()
    grads = [p.grad for p in twin.parameters()]
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    max_norm, lr = 0.1 * norm.item(), 0.7
    ref.train_step(model, torch.optim.SGD(model.parameters(), lr=lr), x, y, max_norm)
    scale = max_norm / (norm + 1e-6)
    for p, b, g in zip(model.parameters(), before, grads):
        torch.testing.assert_close(p.detach(), b - lr * scale * g)


def test_sample_follows_softmax_of_logits_over_temperature():
    c = np.array([1.0, 0.0, -1.0, 2.0])
    for T in (0.3, 1.0, 3.0):
        out = ref.sample(probes.FixedModel(c, 0.0), [0], 20000, T, torch.Generator().manual_seed(0))
        freq = np.bincount(out, minlength=4) / len(out)
        p = torch.softmax(torch.tensor(c) / T, -1).numpy()
        chi2 = (len(out) * (freq - p) ** 2 / p).sum()
        assert chi2 < 20, (T, freq, p)  # 3 degrees of freedom: p-value ~ 2e-4


def test_sampled_ids_are_fed_back():
    out = ref.sample(probes.FixedModel(np.zeros(5), 50.0), [2], 10, 1.0, torch.Generator().manual_seed(0))
    assert out == [(3 + i) % 5 for i in range(10)]


def test_rnn_output_shapes_match_torch():
    for B, T, D, H, L, bi in itertools.product([1, 3], [2, 5], [3], [4, 6], [1, 2, 3], [False, True]):
        out, h_n = torch.nn.RNN(D, H, num_layers=L, batch_first=True, bidirectional=bi)(torch.zeros(B, T, D))
        assert ref.rnn_output_shapes(B, T, D, H, L, bi) == {"output": tuple(out.shape), "h_n": tuple(h_n.shape)}


def test_notebook_model_is_the_reference_model(setup):
    """The notebook's given CharRNN is the one the probes and the reference use: same weights, same outputs."""
    torch.manual_seed(3)
    a = setup["CharRNN"](7, 3, 5, 2)
    torch.manual_seed(3)
    b = ref.CharRNN(7, 3, 5, 2)
    for p, q in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert p[0] == q[0]
        torch.testing.assert_close(p[1], q[1])
    ids = torch.randint(0, 7, (2, 4))
    torch.testing.assert_close(a(ids)[0], b(ids)[0])


# --- the hidden tests themselves: pass on the reference, fail on each known mistake with its name ---

def test_hidden_tests_pass_on_the_reference(check_close, capsys):
    namespace, (checkers, calls) = {}, counted(check_close=check_close)
    for part in ("make_batches", "sequence_cross_entropy", "train_step", "sample", "rnn_output_shapes"):
        before = len(calls)
        check_part(A, part, getattr(ref, part), namespace, **checkers)
        assert len(calls) > before, part
    assert namespace["sequence_cross_entropy"] is ref.sequence_cross_entropy
    assert capsys.readouterr().out.count("ok:") == len(calls)  # every check the judges made passed


def _wrong_step(kind):
    def step(model, optimizer, inputs, targets, max_norm):
        if kind != "no zero_grad":
            optimizer.zero_grad()
        logits, _ = model(inputs)
        y = inputs if kind == "untargeted" else targets
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                                 reduction="sum" if kind == "sum" else "mean")
        loss.backward()
        if kind == "per parameter":
            for p in model.parameters():
                torch.nn.utils.clip_grad_norm_([p], max_norm)
        elif kind == "clip by value":
            torch.nn.utils.clip_grad_value_(model.parameters(), max_norm)
        elif kind != "no clipping":
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        if kind != "no step":
            optimizer.step()
        return loss.item()
    return step


@pytest.mark.parametrize("name", sorted(hidden.TRAIN_MISTAKES))
def test_hidden_train_step_names_each_mistake(check_close, name):
    with pytest.raises(AssertionError, match="your result matches " + re.escape(name[:25])):
        check_part(A, "train_step", _wrong_step(hidden.TRAIN_MISTAKES[name]), check_close=check_close)


def _sampler(transform):
    def sample(model, start, n, temperature, generator):
        out, (logits, h) = [], model(torch.tensor([list(start)]))
        for _ in range(n):
            p = transform(logits[0, -1], temperature)
            nxt = torch.multinomial(p, 1, generator=generator)
            out.append(int(nxt))
            logits, h = model(nxt.view(1, 1), h)
        return out
    return sample


@pytest.mark.parametrize("transform,name", [
    (lambda z, T: torch.softmax(z, -1) / T, "after the softmax"),
    (lambda z, T: torch.softmax(z * T, -1), "multiplied by the temperature"),
    (lambda z, T: torch.nn.functional.one_hot(z.argmax(), len(z)).float(), "argmax"),
])
def test_hidden_sample_names_each_mistake(check_close, transform, name):
    with pytest.raises(AssertionError, match=name):
        check_part(A, "sample", _sampler(transform), check_close=check_close)


def test_hidden_sample_catches_a_sampler_that_ignores_its_own_output(check_close):
    def stuck(model, start, n, temperature, generator):
        logits, _ = model(torch.tensor([list(start)]))
        p = torch.softmax(logits[0, -1] / temperature, -1)
        return torch.multinomial(p, n, replacement=True, generator=generator).tolist()
    with pytest.raises(AssertionError, match="feed each sampled id back"):
        check_part(A, "sample", stuck, check_close=check_close)


def test_hidden_sample_catches_a_sampler_that_drops_the_state(check_close):
    def forgetful(model, start, n, temperature, generator):
        out, (logits, _) = [], model(torch.tensor([list(start)]))
        for _ in range(n):
            nxt = torch.multinomial(torch.softmax(logits[0, -1] / temperature, -1), 1, generator=generator)
            out.append(int(nxt))
            logits, _ = model(nxt.view(1, 1))  # the state is dropped
        return out
    with pytest.raises(AssertionError, match="depend on its hidden state"):
        check_part(A, "sample", forgetful, check_close=check_close)


def test_a_sampler_that_rereads_the_whole_sequence_passes(check_close):
    """Another right answer: no state kept, but every id so far read again at each step."""
    def rereading(model, start, n, temperature, generator):
        ids = list(start)
        for _ in range(n):
            logits, _ = model(torch.tensor([ids]))
            ids.append(int(torch.multinomial(torch.softmax(logits[0, -1] / temperature, -1), 1, generator=generator)))
        return ids[len(start):]
    check_part(A, "sample", rereading, check_close=check_close)


@pytest.mark.parametrize("mistake", sorted(hidden.batch_mistakes(torch.arange(20), 4)))
def test_hidden_make_batches_names_each_mistake(check_close, mistake):
    def wrong(ids, seq_len):
        return hidden.batch_mistakes(ids, seq_len)[mistake]
    with pytest.raises(AssertionError, match="your result matches " + re.escape(mistake[:20])):
        check_part(A, "make_batches", wrong, check_close=check_close)


@pytest.mark.parametrize("factor,name", [(lambda B, T: B * T, "sum over tokens"), (lambda B, T: -1, "minus sign"),
                                         (lambda B, T: T, "per-sequence sums"),
                                         (lambda B, T: 1 / np.log(2), "base-2 logarithm")])
def test_hidden_cross_entropy_names_each_mistake(check_close, factor, name):
    def wrong(logits, targets):
        loss, _ = ref.sequence_cross_entropy(logits, targets)
        return loss * factor(*targets.shape), torch.exp(loss)
    with pytest.raises(AssertionError, match=name):
        check_part(A, "sequence_cross_entropy", wrong, check_close=check_close)


@pytest.mark.parametrize("wrong,name", [
    (lambda logits, targets: (lambda loss: (loss, torch.exp(loss)))(
        -(logits - torch.logsumexp(logits, -1, keepdim=True))[..., 0].mean()), "class at position 0"),
    (lambda logits, targets: (lambda loss: (loss, 2 ** loss))(ref.sequence_cross_entropy(logits, targets)[0]),
     "2 \\*\\* loss"),
    (lambda logits, targets: (lambda loss: (loss, loss))(ref.sequence_cross_entropy(logits, targets)[0]),
     "the loss itself"),
])
def test_hidden_cross_entropy_names_the_other_mistakes(check_close, wrong, name):
    with pytest.raises(AssertionError, match=name):
        check_part(A, "sequence_cross_entropy", wrong, check_close=check_close)


@pytest.mark.parametrize("out,h,name", [("(B, T, H)", "(L * k, B, H)", "2H"),
                                        ("(B, T, k * H)", "(L, B, H)", "num_layers \\* 2"),
                                        ("(T, B, k * H)", "(L * k, B, H)", "time-major"),
                                        ("(B, T, L * k * H)", "(L * k, B, H)", "grows with the number of layers"),
                                        ("(B, T, k * H)", "(L, B, k * H)", "2H per layer"),
                                        ("(B, T, k * H)", "(B, L * k, H)", "batch-first h_n")])
def test_hidden_shapes_names_each_mistake(check_close, out, h, name):
    def wrong(B, T, D, H, L, bi):
        k = 2 if bi else 1
        return {"output": eval(out), "h_n": eval(h)}
    with pytest.raises(AssertionError, match=name):
        check_part(A, "rnn_output_shapes", wrong, check_close=check_close)


def test_train_step_is_graded_on_the_reference_loss(check_close):
    """A wrong sequence_cross_entropy costs points in its own part only: train_step gets the reference one."""
    namespace = {"sequence_cross_entropy": lambda logits, targets: (logits.sum(), logits.sum())}

    def student_step(model, optimizer, inputs, targets, max_norm):
        optimizer.zero_grad()
        loss, _ = namespace["sequence_cross_entropy"](model(inputs)[0], targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        return loss.item()

    check_part(A, "train_step", student_step, namespace, check_close=check_close)
    assert namespace["sequence_cross_entropy"] is ref.sequence_cross_entropy


def test_sample_may_return_a_generator_or_a_tensor(check_close):
    check_part(A, "sample", lambda *args: (i for i in ref.sample(*args)), check_close=check_close)
    check_part(A, "sample", lambda *args: torch.tensor(ref.sample(*args)), check_close=check_close)


def test_sample_that_returns_no_ids_gets_a_clear_message(check_close):
    with pytest.raises(AssertionError, match="expected a list of 3000 ints"):
        check_part(A, "sample", lambda *args: None, check_close=check_close)


@pytest.mark.parametrize("part", ["make_batches", "sequence_cross_entropy", "train_step", "sample",
                                  "rnn_output_shapes"])
@pytest.mark.parametrize("forged", [[], {"frequencies": [], "feedback": [], "repeat": []}])
def test_a_truncated_report_fails(check_close, part, forged):
    """A report with fewer results than the probe makes must not skip checks."""
    with pytest.raises((AssertionError, TypeError), match="did not receive|list indices"):
        getattr(hidden, f"judge_{part}")(forged, check_close)


def test_probe_module_holds_no_reference():
    import inspect
    source = inspect.getsource(probes)
    assert "grader.reference" not in source and "hidden_tests" not in source and "verdicts" not in source


def test_make_batches_cases_reach_the_boundaries():
    """Streams whose length is an exact multiple of seq_len, and one id longer (every target just fits)."""
    remainders = {len(ids) % seq_len for ids, seq_len in probes.batch_cases()}
    assert {0, 1} <= remainders


def test_a_make_batches_that_forgets_the_last_target_fails_only_at_an_exact_multiple(check_close):
    def student(ids, seq_len):
        n = len(ids) // seq_len
        return ids[:n * seq_len].reshape(n, seq_len), ids[1:n * seq_len + 1].reshape(n, seq_len)
    for ids, seq_len in [probes.batch_case(seed) for seed in probes.SEEDS]:
        assert all(torch.equal(a, b) for a, b in zip(student(ids, seq_len), ref.make_batches(ids, seq_len)))
    with pytest.raises(RuntimeError, match="invalid for input of size"):
        check_part(A, "make_batches", student, check_close=check_close)
