"""Runs inside the student's kernel when grading: call a probe on the student's function, report plain data.

Nothing here judges. The probe feeds seeded inputs to the student's function and this module
sends what came back, encoded as plain data, to the grader's worker process; the worker
(which never runs student code) compares it with ``grader.reference``. A submission that
patches numpy, the checkers or this module can change only what it reports, never the verdict,
and its report can only ever hold values: nothing it sends is unpickled or executed.
"""
import base64
import importlib
import json
import sys
import traceback

import numpy as np

MIME = "application/x-rnn-grader-report"
MAX_DEPTH = 40


def encode(obj, depth=0):
    """Plain JSON for arrays, tensors, numbers, strings and containers of them; anything else is named, not sent."""
    if depth > MAX_DEPTH:
        raise ValueError("the result is nested too deeply to send to the grader")
    kind = type(obj)
    if obj is None or kind in (bool, int, float, str):
        return obj
    if kind is complex:
        return {"__complex__": [obj.real, obj.imag]}
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        return {"__tensor__": encode(obj.detach().cpu().numpy(), depth + 1)}
    if isinstance(obj, np.str_):  # a token drawn with rng.choice: a string, usable as a dict key
        return str(obj)
    if isinstance(obj, (np.ndarray, np.generic)):
        arr = np.asarray(obj)
        if arr.dtype.kind in "biufc":
            return {"__ndarray__": [arr.dtype.str, list(arr.shape),
                                    base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode()],
                    "scalar": isinstance(obj, np.generic)}
        if arr.dtype.kind == "U":
            return {"__strarray__": [list(arr.shape), arr.ravel().tolist()]}
        return {"__unsupported__": f"a numpy array of dtype {arr.dtype}"}
    if isinstance(obj, (list, tuple, set, frozenset, dict)):
        tag = {list: "__list__", tuple: "__tuple__", set: "__set__", frozenset: "__set__"}
        if isinstance(obj, dict):
            return {"__dict__": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in obj.items()],
                    "counter": type(obj).__name__ == "Counter"}
        base = next(t for t in tag if isinstance(obj, t))
        return {tag[base]: [encode(v, depth + 1) for v in obj]}
    if kind is range:
        return {"__list__": list(obj)}
    return {"__unsupported__": f"an object of type {kind.__module__}.{kind.__qualname__}"}


def describe(err):
    """The error and the last line of the student's own code it went through."""
    where = ""
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        if "ipykernel" in frame.filename or frame.filename.startswith("<ipython"):
            where = f" (in your code: `{(frame.line or '').strip()[:120]}`)"
            break
    return {"type": type(err).__name__, "message": str(err)[:600], "where": where}


def run_probe(assignment, part, namespace, nonce, parts_source="", parts=()):
    """Put earlier reference parts into ``namespace``, run ``probe_<part>`` on the student's function, report."""
    report = {"nonce": nonce, "part": part}
    try:
        if parts:
            earlier = {"__name__": "earlier_parts"}
            exec(compile(parts_source, "<earlier parts>", "exec"), earlier)
            namespace.update({name: earlier[name] for name in parts})
        probes = importlib.import_module(f"grader.probes.{assignment}")
        if part not in namespace:
            raise NameError(f"`{part}` is not defined: did the cell that defines it run without errors?")
        report["result"] = encode(getattr(probes, f"probe_{part}")(namespace[part]))
    except (Exception, SystemExit) as err:  # an interrupt (timeout) still stops the cell
        report["error"] = describe(err)
    from IPython.display import display

    display({MIME: json.dumps(report)}, raw=True)
