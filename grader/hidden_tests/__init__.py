"""Hidden tests, one module per chapter (instructor-only).

A hidden test cell in a source notebook is one call, e.g.
``hidden.test_rnn_step(rnn_step, check_close)``: the random cases, the reference
answers and the catalogue of known mistakes live here, in tested Python, and the
notebook's own ``check_close`` writes the message the student sees.
"""
import numpy as np


def use_reference_parts(namespace, **parts):
    """From this test cell on, earlier parts are the reference versions (when grading only).

    The swap is left in place so that the visible checks below the hidden ones, in the
    same cell, also run on top of correct earlier parts: a mistake in ``rnn_step`` then
    costs points in ``rnn_step`` only, not again in every part that calls it.
    """
    namespace.update(parts)


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


def copies(*arrays):
    """Fresh copies, so a function that writes into its inputs cannot spoil the expected answer."""
    return [None if a is None else np.array(a, copy=True) for a in arrays]
