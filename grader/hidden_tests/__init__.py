"""Hidden tests, one module per chapter (instructor-only): the judging half of each graded part.

A part's test is split in two. ``grader.probes.<assignment>.probe_<part>(fn)`` builds seeded
inputs and calls the student's function; it is all that runs in the student's kernel when
grading. ``judge_<part>(got, check_close, ...)`` here compares what came back with
``grader.reference`` and names known mistakes; when grading it runs in the grader's own
process (``grader.verdicts``), where the earlier parts a probe calls are the student's own if
they passed, stand-ins answered by the worker if not (``grader.oracle``). In a source notebook
the hidden region is one line, ``run_hidden_test("<assignment>", "<part>", globals())``, which runs both halves in the
instructor's kernel, through the same encoding the grader uses.
"""
import importlib
import inspect

import numpy as np

from grader.wire import Unsupported, round_trip


def run_hidden_test(assignment, part, namespace):
    """Probe and judge one part in this kernel (the instructor's); earlier parts become the reference ones."""
    judge = getattr(importlib.import_module(f"grader.hidden_tests.{assignment}"), f"judge_{part}")
    checkers = {name: namespace[name] for name in list(inspect.signature(judge).parameters)[1:]}
    check_part(assignment, part, namespace[part], namespace, **checkers)


def check_part(assignment, part, fn, namespace=None, **checkers):
    """Probe ``fn`` and judge what it returned, through the same encoding the grader uses.

    Raises AssertionError with the student's message when ``fn`` is wrong. ``namespace``
    (default: a scratch dict) receives the reference versions of the earlier parts.
    """
    probes = importlib.import_module(f"grader.probes.{assignment}")
    ref = importlib.import_module(f"grader.reference.{assignment}")
    earlier = getattr(probes, "PARTS", {}).get(part, ())
    use_reference_parts({} if namespace is None else namespace, **{name: getattr(ref, name) for name in earlier})
    got = round_trip(getattr(probes, f"probe_{part}")(fn))
    getattr(importlib.import_module(f"grader.hidden_tests.{assignment}"), f"judge_{part}")(got, **checkers)


def use_reference_parts(namespace, **parts):
    """From this test cell on, earlier parts are the reference versions.

    The swap is left in place so that the visible checks below the hidden ones, in the
    same cell, also run on top of correct earlier parts: a mistake in ``rnn_step`` then
    costs points in ``rnn_step`` only, not again in every part that calls it.
    """
    namespace.update(parts)


def one_per_case(got, cases, part):
    """Pair each case with its result; a report of another length never came from the probe.

    A forged report with fewer results would otherwise skip checks (``zip`` stops early).
    """
    cases = list(cases)
    if not isinstance(got, (list, tuple)) or len(got) != len(cases):
        raise AssertionError(f"{part}: the grader did not receive one result per test case; "
                             "run the notebook from the top without changing the test cells.")
    return list(zip(cases, got))


def kind(value):
    """How a returned value is named in a message: its type, or what the kernel could not send."""
    return value.what if isinstance(value, Unsupported) else type(value).__name__


def diagnose(got, known_mistakes):
    """Name the first known mistake whose output equals ``got``, or return ''."""
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return ""
    for mistake, wrong in known_mistakes.items():
        wrong = np.asarray(wrong, dtype=float)
        if wrong.shape == got.shape and np.allclose(got, wrong, rtol=1e-5, atol=1e-7):
            return f"your result matches {mistake}."
    return ""

