"""The wire format between the grading kernel and the grader's worker: plain data, nothing else.

``encode`` turns arrays, tensors, numbers, strings and containers of them into JSON-ready
data (arrays as bytes); anything else is *named*, never sent. ``decode`` is its strict
inverse: it accepts nothing but that data, so nothing the kernel sends is unpickled or
executed. Both sides import this module (the kernel inside the sandbox, the worker outside),
so it holds no reference code.
"""
import base64
import json
import sys
from collections import Counter

import numpy as np

MAX_DEPTH = 40


class ReportError(ValueError):
    """What came over the wire is not what the other side writes (tampered, truncated or missing)."""


class Unsupported:
    """Stands for a value the kernel could not send; every check on it fails."""

    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return f"<{self.what}>"


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


def decode(data, depth=0):
    """The inverse of ``encode``, accepting nothing but plain data."""
    if depth > 50:
        raise ReportError("nested too deeply")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        raise ReportError("untagged list")
    if type(data) is not dict or not data:
        raise ReportError(f"unexpected {type(data).__name__}")
    tag, body = next(iter(data.items()))
    if tag == "__ndarray__":
        dtype, shape, raw = body
        dtype = np.dtype(dtype)
        if dtype.kind not in "biufc" or dtype.hasobject:
            raise ReportError(f"array dtype {dtype}")
        arr = np.frombuffer(base64.b64decode(raw), dtype=dtype).reshape([int(n) for n in shape]).copy()
        return arr[()] if data.get("scalar") else arr
    if tag == "__strarray__":
        shape, items = body
        if not all(type(s) is str for s in items):
            raise ReportError("non-string in a string array")
        return np.array(items, dtype=str).reshape([int(n) for n in shape])
    if tag == "__tensor__":
        import torch

        return torch.from_numpy(np.asarray(decode(body, depth + 1)))
    if tag == "__complex__":
        return complex(float(body[0]), float(body[1]))
    if tag in ("__list__", "__tuple__", "__set__"):
        items = [decode(v, depth + 1) for v in body]
        return {"__list__": list, "__tuple__": tuple, "__set__": set}[tag](items)
    if tag == "__dict__":
        pairs = {decode(k, depth + 1): decode(v, depth + 1) for k, v in body}
        return Counter(pairs) if data.get("counter") else pairs
    if tag == "__unsupported__":
        return Unsupported(str(body)[:200])
    raise ReportError(f"unknown tag {tag!r}")


def dumps(value):
    """``value`` encoded, as one JSON string."""
    return json.dumps(encode(value))


def loads(text):
    """The value a ``dumps`` string stands for (strictly: plain data only)."""
    return decode(json.loads(text))


def round_trip(value):
    """What the grader would receive for ``value``: used when hidden tests run in the instructor's kernel."""
    return loads(dumps(value))


def tensors_in(value):
    """The torch tensors inside ``value`` (in lists, tuples and dict values), in the order ``encode`` writes them."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensors_in(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in tensors_in(v)]
    return []
