"""The worker's half of a hidden-test cell: answer the kernel's requests, collect its report.

While a hidden-test cell runs, the kernel's harness talks to the worker over the kernel's
stdin channel (``grader.kernel_harness.ask``), one JSON request per input request:

- ``job``: which part, the cell's nonce, and for each earlier part in the probe module's
  ``PARTS``: ``own`` (it passed its hidden test; the student's function is used) or ``oracle``;
- ``call``: a stand-in's call (``grader.stand_in``): the reference runs *here*, on the decoded
  arguments, and only its result goes back, as plain data. With ``grad`` flags, the call's
  graph is kept so that a later ``backward`` request gets its vector-Jacobian product;
- ``report``: what the probe returned (or raised), judged by ``grader.verdicts``.

Nothing the kernel sends is executed; only reference functions named in ``PARTS[part]`` answer.
"""
import importlib
import json
import sys
from collections import OrderedDict

from grader.wire import ReportError, decode, encode, tensors_in

MAX_REQUEST_CHARS = 64 * 2 ** 20
MAX_CALLS = 20000  # stand-in calls per cell: far more than any probe makes (chapter 3's train: ~400)
KEPT_GRAPHS = 32  # calls whose graph waits for a backward request


def earlier_parts(assignment, part):
    """The earlier parts ``part`` may call, from the probe module's ``PARTS``."""
    return tuple(getattr(importlib.import_module(f"grader.probes.{assignment}"), "PARTS", {}).get(part, ()))


class Session:
    """One hidden-test cell's conversation with the kernel: its job, the stand-ins' answers, its reports."""

    def __init__(self, assignment, part, nonce, passed):
        self.assignment, self.part, self.nonce = assignment, part, nonce
        self.parts = earlier_parts(assignment, part)
        self.own = [p for p in self.parts if p in passed]
        self.reports, self.calls, self.graphs = [], 0, OrderedDict()

    def answer(self, prompt):
        """The reply (a JSON string) to one input request from the kernel."""
        try:
            if not isinstance(prompt, str) or len(prompt) > MAX_REQUEST_CHARS:
                raise ReportError("a request that is not a string of reasonable size")
            request = json.loads(prompt)
            if type(request) is not dict:
                raise ReportError("a request that is not an object")
            kind = request.get("kind")
            if kind == "job":
                return json.dumps({"assignment": self.assignment, "part": self.part, "nonce": self.nonce,
                                   "own": self.own, "oracle": [p for p in self.parts if p not in self.own]})
            if kind == "report":
                self.reports.append(request)
                return "{}"
            if kind in ("call", "backward"):
                self.calls += 1
                if self.calls > MAX_CALLS:
                    raise ReportError(f"more than {MAX_CALLS} calls to the grader's stand-ins in one test")
                return json.dumps(self.call(request) if kind == "call" else self.backward(request))
            raise ReportError(f"an unknown request {str(kind)[:40]!r}")
        except (ReportError, ValueError, TypeError, KeyError, IndexError, RuntimeError, RecursionError) as err:
            # RecursionError: a request nested past Python's limit must not stop the worker's answers
            return json.dumps({"error": f"{type(err).__name__}: {str(err)[:300]}"})

    def call(self, request):
        """Run the reference ``request['name']`` on the decoded arguments; its result as plain data."""
        name = request.get("name")
        if name not in self.parts:
            raise ReportError(f"{str(name)[:40]!r} is not a part {self.part} may call")
        args, kwargs = decode(request.get("args")), decode(request.get("kwargs"))
        if type(args) is not list or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
            raise ReportError("malformed arguments")
        flags = request.get("grad")
        inputs = tensors_in([args, kwargs])
        if flags is not None:
            if type(flags) is not list or len(flags) != len(inputs):
                raise ReportError("gradient flags that do not match the tensors sent")
            for tensor, flag in zip(inputs, flags):
                if flag is True and tensor.is_floating_point():
                    tensor.requires_grad_(True)
        reference = getattr(importlib.import_module(f"grader.reference.{self.assignment}"), name)
        try:
            value = reference(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - the student's arguments: say what went wrong, never where
            raise ReportError(f"{name} raised {type(err).__name__} on these arguments: {str(err)[:200]}") from None
        reply = {"value": encode(value)}
        if flags is not None:
            reply["id"] = self.calls
            self.graphs[self.calls] = (inputs, tensors_in(value))
            while len(self.graphs) > KEPT_GRAPHS:
                self.graphs.popitem(last=False)
        return reply

    def backward(self, request):
        """The gradients of a kept call's inputs, given the gradients of its outputs."""
        torch = sys.modules["torch"]
        call_id = request.get("id")
        if call_id not in self.graphs:
            raise ReportError("a backward pass through a call the grader no longer holds")
        inputs, outputs = self.graphs[call_id]
        grads = decode(request.get("grads"))
        if type(grads) is not list or len(grads) != len(outputs):
            raise ReportError("gradients that do not match the call's outputs")
        pairs = [(o, torch.as_tensor(g, dtype=o.dtype).reshape(o.shape)) for o, g in zip(outputs, grads)
                 if g is not None and o.requires_grad]
        wanted = [t for t in inputs if t.requires_grad]
        found = torch.autograd.grad([o for o, _ in pairs], wanted, [g for _, g in pairs], retain_graph=True,
                                    allow_unused=True) if pairs and wanted else [None] * len(wanted)
        by_input = dict(zip(map(id, wanted), found))
        return {"value": encode([by_input.get(id(t)) for t in inputs])}

    def close(self):
        self.graphs.clear()
