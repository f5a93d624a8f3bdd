"""Benchmark a whole course: every assignment's bank of mistakes and its solution, replicated to ~1,000 submissions.

``S`` students each hand in all eleven assignments; student ``i`` hands in variant ``i`` (cycling) of each
assignment's list [the solution, then every mistake of ``tests/bank_<assignment>.py``]. The class is graded once
with the engine chosen, and the script prints, measured in that run: wall time and throughput; CPU seconds per
submission of the driver and of the grading processes (workers, zygotes, kernels: the machine's busy CPU less
the driver's, so run it on a quiet machine); the peak memory of the driver, of a worker process, of a worker with
its zygote and kernels, and of everything together (proportional set size, so that pages shared by forked
kernels count once, sampled twice a second by a process of its own); the median worker seconds per assignment;
and, from these, the projected wall time of ``--project-students`` × 11 assignments on ``--project-cores`` cores
(the assumption is printed). Not a test: ``make bench-scale``.
"""
import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from conftest import write_submission  # noqa: E402
from grader.autograde import autograde  # noqa: E402
from grader.course import assignments, notebook_name, prepare_environment  # noqa: E402
from submission_bank import banks, filled  # noqa: E402

MB = 2 ** 20


def make_course(root, size):
    """About ``size`` submissions: ceil(size / 11) students × every assignment; returns {assignment: count}."""
    names = assignments()
    variants = {a: [None] + [m for (b, _), m in sorted(banks().items()) if b == a] for a in names}
    students = -(-size // len(names))
    made = Counter()
    for i in range(students):
        for a in names:
            mistake = variants[a][i % len(variants[a])]
            answers = {mistake.cell: mistake.code} if mistake else None
            write_submission(root, f"s{i:04d}", a, notebook_name(a), filled(a, answers))
            made[a] += 1
    return made


def busy_cpu():
    """CPU seconds the whole machine has spent not idle since boot (a cross-check of getrusage's count)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def pss(proc):
    try:
        return proc.memory_full_info().pss / MB
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0


def sample_memory(pid):
    """Run in a process of its own (its CPU is not the driver's): sample the tree of ``pid`` twice a second until
    a line arrives on stdin, then print the peaks (MB) and this sampler's own CPU seconds as JSON."""
    driver = psutil.Process(pid)
    peak = {"driver_rss": 0.0, "worker_rss": 0.0, "worker_tree_pss": 0.0, "all_pss": 0.0}
    while not select.select([sys.stdin], [], [], 0.5)[0]:
        peak["driver_rss"] = max(peak["driver_rss"], driver.memory_info().rss / MB)
        total = pss(driver)
        for worker in driver.children():
            try:
                tree = [worker] + worker.children(recursive=True)
                peak["worker_rss"] = max(peak["worker_rss"], worker.memory_info().rss / MB)
            except psutil.NoSuchProcess:
                continue
            in_tree = sum(pss(p) for p in tree)
            peak["worker_tree_pss"] = max(peak["worker_tree_pss"], in_tree)
            total += in_tree
        peak["all_pss"] = max(peak["all_pss"], total)
    own = os.times()
    print(json.dumps({**peak, "cpu": own.user + own.system}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=1000, help="submissions, about (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=2, help="workers (default: %(default)s)")
    p.add_argument("--cluster", choices=["local"], help="grade on a Dask LocalCluster instead of the local pool")
    p.add_argument("--timeout", type=int, default=30, help="seconds per cell (default: %(default)s)")
    p.add_argument("--project-students", type=int, default=500, help="projection: students (default: %(default)s)")
    p.add_argument("--project-cores", type=int, default=64, help="projection: cluster cores (default: %(default)s)")
    p.add_argument("--keep", type=Path, help="keep the class and the grading folder here")
    p.add_argument("--sample", type=int, help=argparse.SUPPRESS)  # the memory sampler's process
    args = p.parse_args()
    if args.sample:
        return sample_memory(args.sample)
    prepare_environment()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    made = make_course(tmp / "class", args.size)
    n = sum(made.values())
    print(f"{n} submissions ({len(made)} assignments × {n // len(made)} students), {args.jobs} workers "
          f"({'Dask LocalCluster' if args.cluster else 'local pool'}), {os.cpu_count()} cores, "
          f"load average before {os.getloadavg()[0]:.1f}", flush=True)
    sampler = subprocess.Popen([sys.executable, __file__, "--sample", str(os.getpid())], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    before_self, before_machine = os.times(), busy_cpu()
    start = time.perf_counter()
    rows, errors = autograde(tmp / "class", tmp / "work", jobs=args.jobs, timeout=args.timeout,
                             cluster=args.cluster, progress=True)
    wall = time.perf_counter() - start
    peak, _ = sampler.communicate("stop\n")
    peak = json.loads(peak)
    after_self = os.times()
    machine_cpu = busy_cpu() - before_machine
    driver_cpu = (after_self.user - before_self.user) + (after_self.system - before_self.system)
    grading_cpu = machine_cpu - driver_cpu - peak["cpu"]
    status = json.loads((tmp / "work" / "status.json").read_text())
    per_assignment = defaultdict(list)
    for key, entry in status.items():
        if "seconds" in entry:
            per_assignment[key.split("/", 1)[1]].append(entry["seconds"])
    statuses = dict(sorted(Counter(r["status"] for r in rows).items()))

    print(f"graded: {len(rows)} rows, {errors} grader errors, statuses {statuses}")
    print(f"wall {wall:.0f} s: {n / wall:.2f} submissions/s, {wall / n:.3f} s per submission; "
          f"load average after {os.getloadavg()[0]:.1f}")
    print(f"CPU per submission: driver {driver_cpu / n:.3f} s (it finds and reads the files, releases, records and exports; the workers check); grading "
          f"{grading_cpu / n:.3f} s (workers, zygotes, kernels: the machine's busy CPU over the run, less the driver's "
          f"and the memory sampler's {peak['cpu']:.0f} s; anything else running here counts too: run it alone)")
    print(f"peak memory: driver {peak['driver_rss']:.0f} MB RSS; one worker process {peak['worker_rss']:.0f} MB RSS; "
          f"one worker with its zygote and kernels {peak['worker_tree_pss']:.0f} MB PSS; "
          f"everything {peak['all_pss']:.0f} MB PSS")
    print("median worker seconds per submission, by assignment:")
    for a in sorted(per_assignment):
        print(f"  {a:<38} {statistics.median(per_assignment[a]):6.2f} s  ({len(per_assignment[a])} submissions)")

    total = args.project_students * len(made)
    cores = args.project_cores
    workers_bound = total * grading_cpu / n / cores
    driver_bound = total * driver_cpu / n
    print(f"\nprojection: {args.project_students} students × {len(made)} assignments = {total} submissions "
          f"on {cores} cores")
    print(f"  assumption: one worker per core, each core as fast as one of this machine's, this class's mix of "
          f"submissions, workers already running (batch queue time not included), one driver working serially "
          f"at this run's {driver_cpu / n * 1000:.0f} ms CPU per submission")
    print(f"  workers' share: {total} × {grading_cpu / n:.3f} s / {cores} = {workers_bound / 60:.1f} min; "
          f"driver's share: {total} × {driver_cpu / n:.3f} s = {driver_bound / 60:.1f} min")
    print(f"  projected wall time: {max(workers_bound, driver_bound) / 60:.1f} min (the driver records while the "
          f"workers grade; {(workers_bound + driver_bound) / 60:.1f} min if the two did not overlap at all)")


if __name__ == "__main__":
    main()
