"""The grading kernel never holds reference code, yet a mistake costs points once.

End to end: the spying submission of every assignment (``tests/spy_bank.py``) loses only its
broken parts, and no reference line it does not contain reaches its feedback, its autograded
notebook or its log. In process: the worker's answers (``grader.oracle``) and the stand-ins
(``grader.stand_in``) give the reference's values and gradients, and refuse what they should.
"""
import json
import re

import nbformat
import numpy as np
import pytest
import torch

from grader.course import REPO, assignments
from grader.kernel_harness import HARNESS_SOURCE
from grader.leaks import GENERIC, MIN_LENGTH, visible_text
from grader.oracle import Session
from grader.sandbox import KERNEL_MODULES
from grader.stand_in import StandInError, stand_in
from points import points
from spy_bank import MARKER, broken_tests
from test_autograde import parts_of

ASSIGNMENTS = assignments()
SHORTEST = max(MIN_LENGTH, 16)  # shorter reference lines ("return total", "import torch") are in any library too


def distinctive_lines(text):
    return {line.strip() for line in text.splitlines() if len(line.strip()) >= SHORTEST
            and not line.strip().startswith("#") and line.strip() not in GENERIC}


def public_text():
    """Every module the sandbox shows a kernel: whatever of the reference they share is no secret."""
    files = [REPO / m for m in KERNEL_MODULES if m.endswith(".py")]
    files += [p for m in KERNEL_MODULES if not m.endswith(".py") for p in sorted((REPO / m).rglob("*.py"))]
    return "\n".join(p.read_text() for p in files)


def secret_lines(assignment, submission):
    """Lines of grader/reference/<a>.py that are neither in the submission nor in a module the kernel can read."""
    public = public_text()
    reference = (REPO / "grader" / "reference" / f"{assignment}.py").read_text()
    return {line for line in distinctive_lines(reference) if line not in submission and line not in public}


def autograded(workdir, student, assignment):
    """(cell sources, cell outputs) of an autograded notebook, as text."""
    nb = nbformat.read(workdir / "autograded" / student / assignment / f"{assignment}.ipynb", as_version=4)
    outputs = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            outputs += [out.get("text", ""), out.get("evalue", ""), *out.get("traceback", [])]
            outputs += [str(v) for v in out.get("data", {}).values()]
    return "\n".join(c.source for c in nb.cells), "\n".join(outputs)


def section(outputs, title):
    """The text the spy displayed under ``MARKER title`` (a line of its own; the spy's source, shown too, has it
    inside a string), up to the next such line."""
    start = re.search(rf"^{MARKER} {re.escape(title)}", outputs, re.M).start()
    end = re.compile(rf"^{MARKER} ", re.M).search(outputs, start + 1)
    return outputs[start:end.start() if end else None]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_spy_loses_only_the_parts_it_broke(graded, assignment):
    row = graded[0][("spy", assignment)]
    assert (row["status"], row["reason"]) == ("graded", ""), row  # the static checks do not see it
    lost = broken_tests(assignment)
    for part, pts in points(assignment)[0].items():
        assert parts_of(row)[part] == (0 if part in lost else pts), part


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_reference_line_reaches_the_spy(graded, feedback, assignment):
    _, workdir = graded
    sources, outputs = autograded(workdir, "spy", assignment)
    secret = secret_lines(assignment, sources)
    assert len(secret) >= 5, secret  # the reference has lines of its own to leak
    log = (workdir / "logs" / f"spy__{assignment}.log").read_text()
    page = visible_text(feedback[0][("spy", assignment)])
    for where, text in (("autograded notebook", outputs), ("log", log), ("feedback", page)):
        assert not [line for line in secret if line in text], where
    # the routes ran and what they found reached the notebook and the feedback (so a leak would show)
    for title in ("inside", "(displayed from inside the probe)", "history", "linecache", "notes written inside",
                  "marshalled code", "sources now"):
        assert f"{MARKER} {title}" in outputs and f"{MARKER} {title}" in page, title
    assert "def probe_" in section(outputs, "notes written inside")  # getsource worked inside the probe
    # the harness cells left no trace: not in the history, not among the cells in linecache, nothing in globals
    for title in ("history", "cells in linecache"):
        assert "kernel_harness" not in section(outputs, title) and HARNESS_SOURCE not in section(outputs, title)
    assert section(outputs, "grader objects in globals").strip().endswith("[]")


# ---------------------------------------------------------------- in process: the worker's answers

def ask_for(session):
    return lambda request: json.loads(session.answer(json.dumps(request)))


def test_the_job_routes_passed_parts_to_the_student_and_failed_ones_to_the_worker():
    session = Session("ch01_naive_bayes", "predict", "n0", passed={"tokenize", "fit_naive_bayes"})
    job = ask_for(session)({"kind": "job"})
    assert job == {"assignment": "ch01_naive_bayes", "part": "predict", "nonce": "n0",
                   "own": ["tokenize", "fit_naive_bayes"], "oracle": ["count_matrix"]}


def test_a_stand_in_answers_with_the_reference():
    from grader.probes.ch04_recurrent_networks import forward_args
    from grader.reference import ch04_recurrent_networks as ref

    rnn_step = stand_in("rnn_step", ask_for(Session("ch04_recurrent_networks", "rnn_forward", "n", set())))
    X, h0, W_xh, W_hh, b_h = forward_args(401)
    got = rnn_step(X[:, 0], h0, W_xh, W_hh, b_h=b_h)
    assert isinstance(got, np.ndarray) and np.array_equal(got, ref.rnn_step(X[:, 0], h0, W_xh, W_hh, b_h))
    assert rnn_step.__name__ == "rnn_step" and "stand-in" in rnn_step.__doc__


def test_a_stand_in_is_differentiable():
    """Chapter 5's train_step differentiates through sequence_cross_entropy: same gradient as the reference's."""
    from grader.reference import ch05_training_rnn_language_models as ref

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 5, generator=g, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 5, (2, 3), generator=g)
    session = Session("ch05_training_rnn_language_models", "train_step", "n", set())
    loss, ppl = stand_in("sequence_cross_entropy", ask_for(session))(logits, targets)
    (2 * loss + ppl).backward()
    got = logits.grad.clone()
    logits.grad = None
    want_loss, want_ppl = ref.sequence_cross_entropy(logits, targets)
    (2 * want_loss + want_ppl).backward()
    assert torch.allclose(loss, want_loss) and torch.allclose(got, logits.grad)


def test_a_stand_in_through_a_parameter_dict():
    """Chapter 3's train differentiates through window_lm_forward(contexts, params): gradients reach every leaf."""
    from grader.probes.ch03_fixed_window_neural_lm import random_params
    from grader.reference import ch03_fixed_window_neural_lm as ref

    params, contexts = random_params(301)
    forward = stand_in("window_lm_forward", ask_for(Session("ch03_fixed_window_neural_lm", "train", "n", set())))
    forward(contexts, params).square().sum().backward()
    got = {k: v.grad.clone() for k, v in params.items()}
    for v in params.values():
        v.grad = None
    ref.window_lm_forward(contexts, params).square().sum().backward()
    for k, v in params.items():
        assert torch.allclose(got[k], v.grad), k


def test_the_worker_answers_only_the_parts_the_probe_may_call():
    session = Session("ch04_recurrent_networks", "rnn_forward", "n", set())
    with pytest.raises(StandInError, match="not a part rnn_forward may call"):
        stand_in("cross_entropy", ask_for(session))(np.zeros((2, 3)), np.zeros(2, dtype=int))
    with pytest.raises(StandInError, match="raised ValueError on these arguments"):
        stand_in("rnn_step", ask_for(session))(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((4, 9)),
                                               np.zeros((4, 4)), np.zeros(4))
    assert "error" in json.loads(session.answer("not json")) and "error" in json.loads(session.answer("[1]"))


def test_a_second_report_voids_the_part():
    from grader.verdicts import ReportError, read_report

    session = Session("ch04_recurrent_networks", "rnn_step", "n", set())
    ask = ask_for(session)
    ask({"kind": "report", "nonce": "n", "part": "rnn_step", "result": None})
    assert read_report(session.reports, "rnn_step", "n")["result"] is None
    ask({"kind": "report", "nonce": "n", "part": "rnn_step", "result": None})
    with pytest.raises(ReportError, match="2 reports"):
        read_report(session.reports, "rnn_step", "n")
