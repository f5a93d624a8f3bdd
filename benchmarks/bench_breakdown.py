"""Benchmark: where a worker's time goes when it grades one chapter 4 submission.

Grades the same correct submissions in one worker process per configuration (kernels forked from
the zygote or started from scratch, in the sandbox or not), timing each phase from inside that
worker: kernel start (bwrap, interpreter, ipykernel; or fork and private view), the setup cell
(numpy and torch imports), the student's cells, the test cells (hidden-test harness round trips),
kernel shutdown, nbgrader's bookkeeping (gradebook rows, its sanitising pass and the rest of its
converter) and the worker's own. The same notebooks executed by plain nbclient (python3 kernel,
visible tests) are the baseline; "before" is the grader as it was (kernels from scratch, graceful
shutdown). Prints medians (seconds per submission) with the machine's load.
Not a test: ``python benchmarks/bench_breakdown.py [--size N]``.
"""
import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

CONFIGS = {  # name -> (kernels forked from the zygote?, sandbox?, kernel shutdown); the first two: after and before
    "fork+sandbox": ("1", True, "immediate"), "before: scratch+sandbox": ("0", True, "graceful"),
    "scratch+sandbox": ("0", True, "immediate"), "fork, no sandbox": ("1", False, "immediate"),
    "scratch, no sandbox": ("0", False, "immediate")}
ROWS = ["kernel start", "setup cell (numpy, torch)", "student's cells", "test cells", "kernel shutdown",
        "execute: the rest", "nbgrader: autograding pass, besides executing", "nbgrader: sanitising pass",
        "nbgrader: gradebook rows, file copies", "nbgrader: the rest", "worker: the rest", "total"]
_spent = defaultdict(float)


def _timed(key_of):
    """Decorate a function (sync or async) so that its wall time is added to ``_spent[key_of(args)]``."""
    def wrap(fn):
        import inspect

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    _spent[key_of(*args)] += time.perf_counter() - start
        else:
            @functools.wraps(fn)
            def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    _spent[key_of(*args)] += time.perf_counter() - start
        return timed
    return wrap


def _cell_kind(client, cell, *_):
    from grader.kernel_harness import HARNESS_SOURCE

    meta = cell.metadata.get("nbgrader", {})
    if meta.get("grade_id") == "setup":
        return "setup cell (numpy, torch)"
    if cell.source == HARNESS_SOURCE or (meta.get("grade") and not meta.get("solution")):
        return "test cells"
    return "student's cells"


def instrument():
    """Patch nbclient, nbconvert and nbgrader in this process so that every phase is timed."""
    from nbclient import NotebookClient
    from nbconvert.preprocessors import Preprocessor
    from nbgrader.apps import NbGraderAPI
    from nbgrader.converters import Autograde
    from nbgrader.converters.base import BaseConverter

    from nbclient.util import run_sync

    for name, key in (("async_start_new_kernel", "kernel start"), ("async_start_new_kernel_client", "kernel start"),
                      ("_async_cleanup_kernel", "kernel shutdown"), ("async_execute_cell", _cell_kind)):
        timed = _timed(key if callable(key) else (lambda *a, key=key: key))(getattr(NotebookClient, name))
        setattr(NotebookClient, name, timed)  # and the synchronous twins, which nbconvert's preprocess calls
        setattr(NotebookClient, {"_async_cleanup_kernel": "_cleanup_kernel"}.get(name, name.replace("async_", "")),
                run_sync(timed))
    Preprocessor.__call__ = _timed(lambda self, *a: "pp " + type(self).__name__)(Preprocessor.__call__)
    BaseConverter.convert_single_notebook = _timed(  # the worker's own release of the assignment: once per worker
        lambda self, *a: "nbgrader: release" if not isinstance(self, Autograde) else
        "nbgrader: sanitising pass" if self._sanitizing else "nbgrader: autograding pass")(
        BaseConverter.convert_single_notebook)
    Autograde.init_assignment = _timed(lambda *a: "nbgrader: gradebook rows, file copies")(Autograde.init_assignment)
    NbGraderAPI.autograde = _timed(lambda *a: "nbgrader autograde")(NbGraderAPI.autograde)


def rows_of(spent, total):
    """The table's rows from one submission's timings."""
    row = {k: spent[k] for k in ROWS[:5]}
    execute = spent["pp TrustedExecute"]
    row["execute: the rest"] = execute - sum(row.values())
    row["nbgrader: autograding pass, besides executing"] = spent["nbgrader: autograding pass"] - execute
    row["nbgrader: sanitising pass"] = spent["nbgrader: sanitising pass"]
    row["nbgrader: gradebook rows, file copies"] = spent["nbgrader: gradebook rows, file copies"]
    row["nbgrader: the rest"] = spent["nbgrader autograde"] - sum(
        spent[k] for k in ("nbgrader: gradebook rows, file copies", "nbgrader: sanitising pass",
                           "nbgrader: autograding pass"))
    row["worker: the rest"] = total - spent["nbgrader autograde"]
    row["total"] = total
    return row


def grade_in_this_process(notebooks, students, assignment, sandboxed, shutdown):
    """One worker, as autograde starts it: grade ``students`` one after another, time each phase of each."""
    from grader import grade_task

    worker = grade_task.Worker(grade_task.settings(60, {"memory_mb": 4096, "cpu_seconds": 600},
                                                   "on" if sandboxed else "off", []))
    worker.api.config.Execute.shutdown_kernel = shutdown
    instrument()
    out = []
    for student, path in zip(students, notebooks):
        _spent.clear()
        outcome = worker.grade({"student": student, "assignment": assignment, "name": Path(path).name,
                                "raw": Path(path).read_bytes(), "repairs": [], "timestamp": None})
        assert outcome["success"] and outcome["sandboxed"] == sandboxed, outcome["log"][-2000:]
        out.append(rows_of(_spent, outcome["seconds"]))
    return out


def plain_in_this_process(notebooks):
    """The same notebooks, executed by nbclient with the python3 kernel, as handed in."""
    import nbformat
    from nbclient import NotebookClient

    instrument()
    out = []
    for path in notebooks:
        _spent.clear()
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        row = {k: _spent[k] for k in ROWS[:5]}
        row["total"] = time.perf_counter() - start
        row["execute: the rest"] = row["total"] - sum(row[k] for k in ROWS[:5])
        out.append(row)
    return out


def child(args):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from grader.course import prepare_environment

    prepare_environment()
    if args.config == "plain nbclient":
        rows = plain_in_this_process([Path(p) for p in args.notebooks])
    else:
        fork, sandboxed, shutdown = CONFIGS[args.config]
        os.environ["RNN_GRADER_FORK_KERNELS"] = fork
        rows = grade_in_this_process(args.notebooks, args.students, args.assignment, sandboxed, shutdown)
    print("ROWS " + json.dumps(rows))


def load():
    return "load average %.1f %.1f %.1f" % os.getloadavg()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=5, help="correct submissions per configuration (default: %(default)s)")
    p.add_argument("--config", help=argparse.SUPPRESS)
    p.add_argument("--assignment", help=argparse.SUPPRESS)
    p.add_argument("--students", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("--notebooks", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.config:
        return child(args)

    from conftest import A, write_submission
    from grader.course import prepare_environment
    from submission_bank import filled

    prepare_environment()
    with tempfile.TemporaryDirectory(prefix="rnnb-") as tmp:
        tmp = Path(tmp)
        students = [f"correct{i:02d}" for i in range(args.size)]
        for student in students:
            write_submission(tmp / "class", student, A, f"{A}.ipynb", filled(A))
        notebooks = sorted(str(p) for p in (tmp / "class").glob("*/*/*.ipynb"))
        print(f"{len(students)} correct submissions of {A}, each configuration in one worker process; {load()}")
        results, loads = {}, {}
        for config in ["plain nbclient", *CONFIGS]:
            before = load()
            cmd = [sys.executable, __file__, "--config", config, "--assignment", A,
                   "--students", *students, "--notebooks", *notebooks]
            done = subprocess.run(cmd, capture_output=True, text=True)
            line = next((ln for ln in done.stdout.splitlines() if ln.startswith("ROWS ")), None)
            if line is None:
                sys.exit(f"{config}: no timings\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
            results[config] = json.loads(line[5:])
            loads[config] = f"{before} -> {load().split()[-3]}"
        names = list(results)
        print(f"\nmedian seconds per submission (worker side, wall clock)\n{'phase':<40}"
              + "".join(f"{n:>25}" for n in names))
        for row in ROWS:
            cells = []
            for n in names:
                values = [r.get(row) for r in results[n] if r.get(row) is not None]
                cells.append(f"{statistics.median(values):>25.3f}" if values else f"{'':>25}")
            print(f"{row:<40}" + "".join(cells))
        plain = statistics.median(r["total"] for r in results["plain nbclient"])
        print(f"{'ratio to plain nbclient':<40}" + "".join(
            f"{statistics.median(r['total'] for r in results[n]) / plain:>25.2f}" for n in names))
        for n in names:
            print(f"load during {n}: {loads[n]}")


if __name__ == "__main__":
    main()
