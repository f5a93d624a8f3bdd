"""Benchmark: grade N copies of the solution with 1 and 2 workers, against raw nbclient execution.

Prints seconds per submission and ratios, measured in the same run. Not a test: run it with
``make bench`` (or ``python benchmarks/bench_autograde.py --help``).
"""
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from grader.autograde import autograde  # noqa: E402
from grader.course import SOLUTIONS, notebook_name, prepare_environment  # noqa: E402
from submission_bank import filled  # noqa: E402


def raw_execution(notebook, copies):
    """Seconds to execute the source notebook (solutions and hidden tests) ``copies`` times with nbclient."""
    start = time.perf_counter()
    for _ in range(copies):
        nb = nbformat.read(notebook, as_version=4)
        NotebookClient(nb, timeout=60, kernel_name="python3",
                       resources={"metadata": {"path": str(notebook.parent)}}).execute()
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assignment", default="ch04_recurrent_networks")
    p.add_argument("--copies", type=int, default=20, help="submissions to grade (default: %(default)s)")
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="worker counts (default: 1 2)")
    args = p.parse_args()
    prepare_environment()
    source = SOLUTIONS / args.assignment / notebook_name(args.assignment)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(args.copies):
            folder = tmp / "submissions" / f"student{i:03d}" / args.assignment
            folder.mkdir(parents=True)
            nbformat.write(filled(args.assignment), folder / notebook_name(args.assignment))
        raw = raw_execution(source, args.copies)
        print(f"raw nbclient execution: {raw:.1f} s for {args.copies} notebooks = {raw / args.copies:.2f} s each")
        print(f"{'jobs':>4} {'wall s':>8} {'s/submission':>13} {'vs raw/jobs':>12}")
        for jobs in args.jobs:
            workdir = tmp / f"workdir{jobs}"
            start = time.perf_counter()
            rows, errors = autograde(tmp / "submissions", workdir, jobs=jobs, progress=False)
            wall = time.perf_counter() - start
            assert not errors and all(r["status"] == "graded" for r in rows), rows
            print(f"{jobs:>4} {wall:>8.1f} {wall / args.copies:>13.2f} {wall / (raw / jobs):>12.2f}")
            shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
