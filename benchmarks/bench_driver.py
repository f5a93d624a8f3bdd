"""Benchmark the driver's own work per submission, before and after moving the checks to the workers.

On a class of every assignment's bank (the solution and each mistake, ``--students`` × 11 submissions), times
in this one process: what the driver did per submission before (find, read, check and repair, stage the graded
notebook), what it does now (find and read; stage the notebook the worker sends back), and the check it handed
to the workers. Then ``status.json``: rewriting the whole file for every new entry, as before, against appending
each entry to the journal (``grader.status``), at ``--entries`` entries (5,500: 500 students × 11). Recording in
the gradebook is the same before and after (``make bench-scale`` measures the whole driver). Prints medians and
totals in ms and the ratios. Not a test: ``make bench-driver``.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]

from bench_scale import make_course  # noqa: E402
from grader import status as status_module  # noqa: E402
from grader.course import prepare_environment  # noqa: E402
from grader.submissions import check, discover, locate, precheck, stage, staged_notebook  # noqa: E402

ENTRY = {"engine": "local pool of 2", "host": "node017", "log": "/home/teacher/rnn-course/.grading/logs/s0001__"
         "ch04_recurrent_networks.log", "reason": "", "run": "20261201T185750-123456", "sandbox_note": "",
         "sandboxed": True, "seconds": 0.812, "status": "graded", "worker": "tcp://10.0.0.17:40123"}


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, (time.perf_counter() - start) * 1000


def checks(root, out):
    """{phase: [ms per submission]} for the driver before, the driver now, and the workers now."""
    ms = {"before: driver finds, reads, checks, stages": [], "now: driver finds and reads": [],
          "now: driver stages the worker's notebook": [], "now: worker checks (moved)": []}
    subs = discover(root, checked=False)
    for a in sorted({sub.assignment for sub in subs}):  # one-time costs (imports, releases read) out of the timings
        precheck(next(type(s)(s.student, s.assignment, s.folder) for s in subs if s.assignment == a))
    for sub in subs:
        before = type(sub)(sub.student, sub.assignment, sub.folder)
        t0 = time.perf_counter()
        precheck(before)
        if not before.fatal:
            stage(before, out / "before", staged_notebook(before))
        ms["before: driver finds, reads, checks, stages"].append((time.perf_counter() - t0) * 1000)
        raw, t_locate = timed(locate, sub)
        ms["now: driver finds and reads"].append(t_locate)
        worker_sub = type(sub)(sub.student, sub.assignment, None, notebook=Path(sub.notebook.name),
                               repairs=list(sub.repairs))
        t0 = time.perf_counter()
        check(worker_sub, raw)
        text = None if worker_sub.fatal else staged_notebook(worker_sub)
        ms["now: worker checks (moved)"].append((time.perf_counter() - t0) * 1000)
        if text is not None:
            _, t_stage = timed(stage, sub, out / "now", text)
            ms["now: driver stages the worker's notebook"].append(t_stage)
    return ms


def status_writes(folder, entries):
    """(ms for ``entries`` whole-file rewrites, ms for as many journal appends, ms for one rewrite at the end)."""
    old = folder / "old.json"
    kept, start = {}, time.perf_counter()
    for i in range(entries):  # what Status did before: the whole file, atomically, after every entry
        kept[f"s{i // 11:04d}/a{i % 11:02d}"] = dict(ENTRY)
        old.with_suffix(".tmp").write_text(json.dumps(kept, indent=1, sort_keys=True))
        os.replace(old.with_suffix(".tmp"), old)
    rewrites = (time.perf_counter() - start) * 1000
    status_module.SAVE_EVERY = float("inf")  # appends only; the rewrites it does every SAVE_EVERY s: timed below
    status = status_module.Status(folder / "new")
    start = time.perf_counter()
    for i in range(entries):
        status[f"s{i // 11:04d}/a{i % 11:02d}"] = dict(ENTRY)
    appends = (time.perf_counter() - start) * 1000
    _, one_save = timed(status.save)
    status.close()
    return rewrites, appends, one_save


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=20, help="students, each handing in all 11 (default: %(default)s)")
    p.add_argument("--entries", type=int, default=5500, help="status.json entries (default: %(default)s)")
    args = p.parse_args()
    prepare_environment()
    tmp = Path(tempfile.mkdtemp(prefix="bench-driver-"))
    made = make_course(tmp / "class", args.students * 11)
    n = sum(made.values())
    print(f"{n} submissions ({len(made)} assignments × {args.students} students); load average "
          f"{os.getloadavg()[0]:.1f}; ms per submission (median, mean)")
    ms = checks(tmp / "class", tmp / "staged")
    for phase, values in ms.items():
        print(f"  {phase:<46} {statistics.median(values):7.2f} {statistics.mean(values):7.2f}")
    before = statistics.mean(ms["before: driver finds, reads, checks, stages"])
    now = statistics.mean(ms["now: driver finds and reads"]) + statistics.mean(
        ms["now: driver stages the worker's notebook"])
    print(f"  driver's checking and staging, now / before: {now:.2f} / {before:.2f} ms = {now / before:.2f}x")
    (tmp / "new").mkdir()
    every = status_module.SAVE_EVERY
    rewrites, appends, one_save = status_writes(tmp, args.entries)
    print(f"status.json for {args.entries} entries: a rewrite after each, {rewrites / 1000:.1f} s in all; the journal, "
          f"{appends:.0f} ms of appends, plus one rewrite every {every:g} s of the run ({one_save:.0f} ms each at "
          f"{args.entries} entries: {one_save * 360 / every / 1000:.1f} s over a 6-minute run)")
    print(f"  journal appends / rewrites: {appends / rewrites:.4f}x")


if __name__ == "__main__":
    main()
