"""Probes, one module per chapter: the half of each hidden test that runs in the student's kernel.

``probe_<part>(fn)`` builds seeded inputs, calls the student's function on fresh copies and
returns what came back (arrays, tensors, numbers, strings, or lists, tuples and dicts of them).
It never computes an expected answer: these modules are visible inside the grading sandbox,
so they hold no reference code. ``PARTS[part]`` names the earlier parts the student's ``part``
may call: while its probe runs, each is the student's own function if that passed its hidden
test, and otherwise a stand-in whose calls the grader answers from outside the kernel
(``grader.stand_in``), so one mistake costs points once. The judging half, ``judge_<part>``,
lives with the instructor-only hidden tests.
"""
import copy
import sys
import functools
from contextlib import contextmanager

import numpy as np


def fresh(value):
    """A copy a function may write into without spoiling the next call's inputs (tensors keep requires_grad)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) is dict:
        return {k: fresh(v) for k, v in value.items()}
    if type(value) is list:
        return [fresh(v) for v in value]
    return copy.deepcopy(value)


def copies(*values):
    """``fresh`` copies of several inputs, for ``fn(*copies(...))``."""
    return [fresh(v) for v in values]


@contextmanager
def torch_unavailable(why="this part is written in plain numpy"):
    """Inside, any torch operation raises: a plain-numpy part cannot lean on torch (nor on a helper that uses it).

    The static policy check sees only the student's own cells; this catches torch reached any other way,
    e.g. through the setup cell's comparison helpers.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    from torch.overrides import TorchFunctionMode

    class NoTorch(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            raise RuntimeError(f"torch ({getattr(func, '__name__', func)}) was called, but {why}")

    with NoTorch():
        yield


def numpy_only(probe):
    """Decorate a probe of a plain-numpy part: the student's function runs with torch unavailable."""
    @functools.wraps(probe)
    def guarded(fn):
        with torch_unavailable():
            return probe(fn)
    return guarded
