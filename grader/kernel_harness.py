"""Runs inside the student's kernel when grading: call a probe on the student's function, report plain data.

A hidden-test cell is executed as ``HARNESS_SOURCE``, the same line for every part, without
history. ``serve`` asks the grader's worker for its job over the kernel's stdin channel (part,
nonce, and for each earlier part it may call: the student's own function, if it passed its
hidden test, or a stand-in that asks the worker), runs ``probe_<part>`` on the student's
function and sends back what came out, encoded as plain data (``grader.wire``). Nothing here
judges and nothing here, nor anything the worker sends, holds reference code: a submission
that patches numpy, the checkers or this module can change only what it reports, never the
verdict, and can read nothing it could show in its feedback.
"""
import importlib
import json
import linecache
import sys
import traceback

from grader.stand_in import stand_in
from grader.wire import encode

HARNESS_SOURCE = '__import__("grader.kernel_harness").kernel_harness.serve()'
_probed = {}  # part -> the student's function its probe called (used again for later parts if it passed)


def ask(request):
    """Send one request to the grader's worker (as an input request on the stdin channel); return its reply."""
    from IPython import get_ipython

    return json.loads(get_ipython().kernel.raw_input(json.dumps(request)))


def describe(err):
    """The error and the last line of the student's own code it went through."""
    where = ""
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        if "ipykernel" in frame.filename or frame.filename.startswith("<ipython"):
            where = f" (in your code: `{(frame.line or '').strip()[:120]}`)"
            break
    return {"type": type(err).__name__, "message": str(err)[:600], "where": where}


def forget_cell(filename):
    """Drop a cell's source from ``linecache`` and IPython's cell map: later cells see no trace of it."""
    from IPython import get_ipython

    linecache.cache.pop(filename, None)
    getattr(get_ipython().compile, "_filename_map", {}).pop(filename, None)


def run_probe(assignment, part, namespace, own=(), oracle=()):
    """``probe_<part>`` on ``namespace[part]``, with the earlier parts ``own`` and ``oracle`` in place.

    ``own``: parts that passed their hidden tests, called as the student wrote them; ``oracle``:
    parts answered by the worker. Both are put back as they were once the probe is done.
    """
    probes = importlib.import_module(f"grader.probes.{assignment}")
    if part not in namespace:
        raise NameError(f"`{part}` is not defined: did the cell that defines it run without errors?")
    fn = _probed[part] = namespace[part]
    routed = [*own, *oracle]
    saved = {name: namespace[name] for name in routed if name in namespace}
    try:
        for name in routed:
            namespace[name] = _probed[name] if name in own and name in _probed else stand_in(name, ask)
        return getattr(probes, f"probe_{part}")(fn)
    finally:
        for name in routed:
            if name in saved:
                namespace[name] = saved[name]
            else:
                namespace.pop(name, None)


def serve():
    """The whole of a hidden-test cell when grading: job in, probe, report out."""
    from IPython import get_ipython

    forget_cell(sys._getframe(1).f_code.co_filename)  # the cell that called serve, i.e. HARNESS_SOURCE
    job = ask({"kind": "job"})
    report = {"kind": "report", "nonce": job["nonce"], "part": job["part"]}
    try:
        result = run_probe(job["assignment"], job["part"], get_ipython().user_ns, job["own"], job["oracle"])
        report["result"] = encode(result)
    except KeyboardInterrupt:  # the cell's time is up: the worker has stopped listening
        raise
    except BaseException as err:  # noqa: BLE001 - whatever the student's code raised is reported as data
        report["error"] = describe(err)
    ask(report)
