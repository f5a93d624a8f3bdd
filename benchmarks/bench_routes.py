"""Benchmark: seconds per submission, per assignment, when later parts call the student's own earlier
functions (the correct submission) and when they call the grader's stand-ins (a mistake in an earlier part).

Grades one correct submission per assignment and the bank mistakes in ``MISTAKES`` (each breaks an
earlier part that a later part calls), then prints each submission's seconds from ``status.json``.
Not a test: ``python benchmarks/bench_routes.py [--jobs N] [--workdir DIR]``.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from conftest import mistake_student, write_submission  # noqa: E402
from grader.autograde import autograde  # noqa: E402
from submission_bank import banks, filled  # noqa: E402

MISTAKES = {"ch01_naive_bayes": ["no_lowercasing"], "ch02_ngram_language_models": ["no_end_symbol"],
            "ch03_fixed_window_neural_lm": ["summed_embeddings", "missing_tanh"],
            "ch04_recurrent_networks": ["missing_bias"], "ch05_training_rnn_language_models": ["summed_loss"],
            "ch06_backpropagation_through_time": ["jacobian_missing_diag", "missing_dh_next"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=1, help="workers (default: %(default)s)")
    p.add_argument("--timeout", type=int, default=60, help="seconds per cell (default: %(default)s)")
    p.add_argument("--workdir", type=Path, help="keep the class and the grading here (default: a temporary folder)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.workdir or Path(tmp)
        bank = banks()
        for assignment, names in MISTAKES.items():
            write_submission(out / "class", "correct", assignment, f"{assignment}.ipynb", filled(assignment))
            for name in names:
                m = bank[(assignment, name)]
                write_submission(out / "class", mistake_student(assignment, name), assignment, f"{assignment}.ipynb",
                                 filled(assignment, {m.cell: m.code}))
        start = time.perf_counter()
        rows, errors = autograde(out / "class", out / "work", jobs=args.jobs, timeout=args.timeout, progress=False)
        wall = time.perf_counter() - start
        status = json.loads((out / "work" / "status.json").read_text())
        print(f"{len(rows)} submissions, {args.jobs} job(s): wall {wall:.1f} s = {wall / len(rows):.2f} s each; "
              f"grader errors {errors}")
        for row in sorted(rows, key=lambda r: (r["assignment"], r["student"] != "correct", r["student"])):
            entry = status[f"{row['student']}/{row['assignment']}"]
            route = "own" if row["student"] == "correct" else "stand-in"
            print(f"{row['assignment']:36} {route:9} {row['student'][len(row['assignment']) + 2:]:28} "
                  f"{entry['seconds']:6.1f} s  {row['status']:7} {row['score']}/{row['max_score']}")


if __name__ == "__main__":
    main()
