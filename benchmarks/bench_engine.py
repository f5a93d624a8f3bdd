"""Benchmark the engines: the local pool against Dask with the same number of workers, same class.

Grades chapter 4's mixed benchmark class (``bench_autograde.make_class``: hostile, broken, wrong and
correct submissions) with ``--jobs N`` (the local pool), ``--cluster local`` (a Dask LocalCluster of N
workers) and a Dask scheduler with N ``dask worker`` processes started here (``--scheduler``), and
prints wall seconds, seconds per submission, the ratio to the local pool, the machine's 5-minute load
average at the end (other work on a shared machine shows there) and whether the rows are identical. Not a test: ``make bench-engine``.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]

from bench_autograde import make_class  # noqa: E402
from grader.autograde import autograde  # noqa: E402
from grader.course import prepare_environment  # noqa: E402


def start_cluster(folder, workers):
    """A scheduler and ``workers`` single-thread workers as processes on 127.0.0.1: (address, processes)."""
    bin_dir = Path(sys.executable).parent
    file = folder / "scheduler.json"
    procs = [subprocess.Popen([bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", file], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    while not file.exists():
        time.sleep(0.5)
    time.sleep(1)
    address = json.loads(file.read_text())["address"]
    procs += [subprocess.Popen([bin_dir / "dask", "worker", "--scheduler-file", file, "--nthreads", "1",
                                "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
              for _ in range(workers)]
    from distributed import Client

    with Client(address) as client:
        client.wait_for_workers(workers, timeout=300)
    return address, procs


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=50, help="submissions in the class (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=2, help="workers for every engine (default: %(default)s)")
    p.add_argument("--timeout", type=int, default=30, help="seconds per cell (default: %(default)s)")
    p.add_argument("--engines", nargs="+", default=["pool", "localcluster", "scheduler"],
                   choices=["pool", "localcluster", "scheduler"], help="engines to time (default: all three)")
    args = p.parse_args()
    prepare_environment()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n = len(make_class(tmp / "class", args.size))
        print(f"{n} submissions of chapter 4, {args.jobs} workers per engine, {os.cpu_count()} cores, "
              f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
        print(f"{'engine':>14} {'wall s':>8} {'s/sub':>7} {'vs pool':>8} {'load':>5}  rows as the first engine's",
              flush=True)
        results, walls, procs = {}, {}, []
        try:
            for name in args.engines:
                where = {"pool": {}, "localcluster": {"cluster": "local"}}.get(name)
                if where is None:
                    address, procs = start_cluster(tmp, args.jobs)  # started before the clock: a running cluster
                    where = {"scheduler": address}
                start = time.perf_counter()
                rows, errors = autograde(tmp / "class", tmp / f"work_{name}", jobs=args.jobs, timeout=args.timeout,
                                         progress=False, **where)
                walls[name] = wall = time.perf_counter() - start
                assert not errors and len(rows) == n, (errors, len(rows))
                results[name] = rows
                first = next(iter(results.values()))
                ratio = f"{wall / walls['pool']:.2f}x" if "pool" in walls else ""
                print(f"{name:>14} {wall:>8.1f} {wall / n:>7.2f} {ratio:>8} {os.getloadavg()[1]:>5.1f}  "
                      f"{'yes' if rows == first else 'NO'}", flush=True)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
