"""Benchmark: grade a class of correct, wrong and hostile submissions; compare with raw execution.

Prints, measured in the same run: the raw nbclient execution time of the same notebooks
(no grader, no sandbox, in as many processes as there are workers), then for each worker count
the grader's wall time, seconds per submission and the ratio to raw execution with as many
processes (target: at most 1.0), with kernels forked from the workers' zygotes and started from
scratch (``$RNN_GRADER_FORK_KERNELS=0``, the grader before the zygote), in the sandbox and
without; "worker s" is the median time a worker spent on one submission. Not a test: ``make bench``.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from conftest import A, hostile_and_broken, mistake_student, write_submission  # noqa: E402
from grader.autograde import autograde  # noqa: E402
from grader.course import prepare_environment  # noqa: E402
from submission_bank import banks, filled  # noqa: E402

# Submissions that hang until the time limit or kill their kernel measure the limit, not the grader.
SLOW_ON_PURPOSE = {"endless_loop", "ignores_interrupt", "dead_kernel", "keeps_killing_the_kernel"}


def make_class(root, size):
    """``size`` submissions of chapter 4: the fast hostile and broken ones, each bank mistake twice, then correct ones.

    The snooping and sabotaging submissions are left out: graded without the sandbox they would write into
    the course folder (the saboteur's own guard makes it do nothing outside the sandbox, which would skew timings).
    """
    hostile = {s: c for s, c in hostile_and_broken(root).items() if s not in SLOW_ON_PURPOSE | {"snoop", "saboteur"}}
    for student, (assignment, name, content) in hostile.items():
        write_submission(root, student, assignment, name, content)
    wrong = [(name, m) for (a, name), m in banks().items() if a == A] * 2
    for i, (name, m) in enumerate(wrong[:size - len(hostile)]):
        write_submission(root, f"{mistake_student(A, name)}_{i}", A, f"{A}.ipynb", filled(A, {m.cell: m.code}))
    for i in range(size - len(hostile) - len(wrong)):
        write_submission(root, f"correct{i:03d}", A, f"{A}.ipynb", filled(A))
    return sorted(p for p in root.glob("*/*/*") if p.is_file())


def _execute(notebooks, timeout):
    """Execute these notebooks one after another, each kernel on Unix sockets of its own (TCP ports collide)."""
    from traitlets.config import Config

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the grader's workers have it
    for path in notebooks:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # the truncated one: nothing to run
            continue
        with tempfile.TemporaryDirectory(prefix="rnnr-") as sockets:
            config = Config()
            config.KernelManager.transport, config.KernelManager.ip = "ipc", f"{sockets}/kernel"
            try:
                NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True, config=config,
                               resources={"metadata": {"path": str(path.parent)}}).execute()
            except CellTimeoutError:  # on a busy machine, say; the grader also gives up on such a notebook
                print(f"raw execution: a cell of {path} timed out", file=sys.stderr)


def raw_execution(notebooks, timeout, jobs):
    """Seconds to execute every readable notebook with nbclient, as handed in (visible tests only), in ``jobs`` processes."""
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(_execute, [[]] * jobs, [timeout] * jobs))  # the processes are up and have imported nbclient
        start = time.perf_counter()
        list(pool.map(_execute, [notebooks[i::jobs] for i in range(jobs)], [timeout] * jobs))
        return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=50, help="submissions in the class (default: %(default)s)")
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="worker counts (default: 1 2)")
    p.add_argument("--timeout", type=int, default=30, help="seconds per cell (default: %(default)s)")
    p.add_argument("--sandbox", nargs="+", default=["on", "off"], choices=["on", "off"], help="(default: on off)")
    p.add_argument("--fork", nargs="+", default=["1", "0"], choices=["1", "0"],
                   help="kernels forked from the zygote (1) or started from scratch (0) (default: 1 0)")
    args = p.parse_args()
    prepare_environment()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        notebooks = make_class(tmp / "class", args.size)
        n = len(notebooks)
        print(f"{n} submissions of {A}; load average {'%.1f %.1f %.1f' % os.getloadavg()}")
        print(f"{'jobs':>4} {'sandbox':>8} {'kernels':>8} {'wall s':>8} {'s/sub':>7} {'vs raw':>7} {'worker s':>9}  statuses, load after")
        results = {"on": [], "off": []}
        for jobs in args.jobs:
            raw = raw_execution(notebooks, args.timeout, jobs)
            print(f"{jobs:>4} {'raw':>8} {'':>8} {raw:>8.1f} {raw / n:>7.2f} {1:>7.2f} {'':>9}  load {os.getloadavg()[0]:.1f}",
                  flush=True)
            for mode, fork in [(m, f) for m in args.sandbox for f in args.fork]:
                os.environ["RNN_GRADER_FORK_KERNELS"] = fork
                start = time.perf_counter()
                workdir = tmp / f"work_{jobs}_{mode}_{fork}"
                rows, errors = autograde(tmp / "class", workdir, jobs=jobs, timeout=args.timeout, progress=False,
                                         sandbox_mode=mode)
                wall = time.perf_counter() - start
                status = json.loads((workdir / "status.json").read_text()).values()
                worker = statistics.median(e["seconds"] for e in status if "seconds" in e)
                assert not errors and len(rows) == n, (errors, len(rows))
                results[mode].append({(r["student"], r["assignment"]): (r["status"], r["score"], r["parts"])
                                      for r in rows})
                statuses = dict(sorted(Counter(r["status"] for r in rows).items()))
                print(f"{jobs:>4} {mode:>8} {'forked' if fork == '1' else 'scratch':>8} {wall:>8.1f} {wall / n:>7.2f} "
                      f"{wall / raw:>7.2f} {worker:>9.2f}  {statuses}, load {os.getloadavg()[0]:.1f}", flush=True)
        for mode, runs in results.items():  # with and without the sandbox differ on purpose (stolen references)
            differ = sorted(k for run in runs for k in run if run[k] != runs[0][k])
            if runs:
                print(f"sandbox {mode}: identical status, score and parts in all {len(runs)} gradings: "
                      f"{'yes' if not differ else 'NO: ' + ', '.join(s for s, _ in differ)}")
        if results["on"] and results["off"]:
            on, off = results["on"][0], results["off"][0]
            print("with vs without the sandbox, different rows:",
                  ", ".join(s for s, _ in sorted(k for k in on if on[k] != off[k])))


if __name__ == "__main__":
    main()
