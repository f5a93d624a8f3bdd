"""Grade a folder of submissions and record a status for every one of them.

The driver (this module) checks and stages the submissions, hands one task per submission to
an engine (``grader.engine``: a local pool by default, or a Dask cluster), and records what comes
back (``grader.record``): it alone writes the gradebook, the autograded copies, ``status.json``
and ``grades.csv``. Workers grade in scratch course folders of their own (``grader.grade_task``).
"""
import shutil
import sys
import time
from pathlib import Path

from tqdm import tqdm

from grader import engine, grade_task, late, sandbox
from grader.course import CourseError, assignments, prepare_environment
from grader.export import export_grades
from grader.grade_task import TIMEOUT_MARK, quiet_library_warnings
from grader.record import Recorder, driver_config, timestamp
from grader.status import Status
from grader.release import release
from grader.submissions import discover, locate, stage

RUN_FILE = "run.txt"  # the id of the last run, which --resume continues


def failure_reason(outcome, timeout, limits=None):
    """Say in one line, in plain words, why a notebook could not be graded and what to do; never an exception's text.

    The log keeps nbgrader's traceback.
    """
    text = outcome["log"] + "\n" + outcome["error"]
    if outcome.get("refused"):
        return f"{outcome['refused']}: grade it on a machine where bubblewrap runs"
    if outcome.get("killed"):
        how = (f"the local pool's worker process died each of the {outcome['deaths']} times" if outcome.get("deaths")
               else "Dask's KilledWorker: the worker process died each time")
        return (f"it took down every worker that graded it ({how}, out of memory or killed): an instructor should "
                "read the log and grade it by hand")
    if outcome.get("no_cell_ran"):
        cap = f" (now {limits['memory_mb']} MB)" if limits else ""
        return ("the grading kernel could not start (tried twice): the grading machine's problem, not the notebook's; "
                f"a memory cap too small for Python and torch? Raise --memory-mb{cap} and grade it again")
    if "CellTimeoutError" in text or "TimeoutError" in text:
        return f"a cell ran longer than the {timeout} s limit (an endless loop?), so the notebook was not graded"
    if "DeadKernelError" in text or "Kernel died" in text or "kernel died" in text:
        cap = f", or the {limits['cpu_seconds']} s CPU-time cap" if limits else ""
        return f"the kernel died while running the notebook (os._exit, a crash{cap})"
    if any(mark in text for mark in ("failed to validate", "ValidationError", "SchemaTooOldError")):
        return ("its nbgrader metadata is damaged in a way the repair could not mend: copy its cells into a fresh "
                "download of the exercise and hand that in, or an instructor grades it by hand (the log says where)")
    return ("the grader stopped on this notebook with an error of its own, not the student's: an instructor should "
            "read the log and grade it again")


def choose_sandbox(mode):
    """(use it?, note for the record) for --sandbox on/auto/off."""
    if mode == "off":
        return False, "no sandbox (--sandbox off)"
    reason = sandbox.unavailable_reason()
    if not reason:
        return True, ""
    if mode == "on":
        raise CourseError(f"--sandbox on, but {reason}")
    return False, f"no sandbox: {reason}"



def status_entry(sub, outcome, timeout, limits):
    """graded, flagged (graded, but an instructor should look: why) or failed (why), from a worker's outcome."""
    if outcome.get("fatal"):  # the worker's check: not a notebook it can grade
        return {"status": "failed", "reason": outcome["fatal"]}
    if not outcome["success"]:
        return {"status": "failed", "reason": failure_reason(outcome, timeout, limits)}
    if sub.problems or sub.deductions or TIMEOUT_MARK in outcome["log"] or outcome.get("skipped"):
        interrupted = [f"a cell ran over the {timeout} s limit and was interrupted"] \
            if TIMEOUT_MARK in outcome["log"] and not outcome.get("skipped") else []
        skipped = [f"{sub.cell_words(index)}{f' ({grade_id})' if grade_id else ''} {what}: "
                   "graded again without it" for index, grade_id, what in outcome.get("skipped", [])]
        reasons = sub.problems + [f"policy: {why}" for why in sub.deductions.values()] + interrupted + skipped
        return {"status": "flagged", "reason": "; ".join(reasons)}
    return {"status": "graded", "reason": ""}


def run_id(workdir, resume):
    """The id of this run: the last one's with --resume (if there is one), else a new one."""
    path = Path(workdir) / RUN_FILE
    if resume and path.exists():
        return path.read_text().strip()
    new = time.strftime("%Y%m%dT%H%M%S") + f"-{time.perf_counter_ns() % 10**6:06d}"
    path.write_text(new)
    return new


def engine_name(scheduler, cluster, jobs):
    if scheduler:
        return f"dask {scheduler}"
    return f"dask {cluster} cluster" if cluster else f"local pool of {jobs}"


def autograde(submissions, workdir, jobs=1, timeout=30, csv_path=None, progress=True,
              memory_mb=4096, cpu_seconds=600, sandbox_mode="auto", duedates=(), late_penalty="none",
              scheduler=None, cluster=None, cluster_config=None, resume=False, students=None):
    """Grade every submission under ``submissions``; write ``status.json`` and the grades CSV.

    Returns the CSV rows and the number of grader errors. A submission the grader cannot grade gets
    status ``failed`` with a reason; one that needs an instructor's look gets ``flagged``. Kernels run
    under ``memory_mb`` of address space and ``cpu_seconds`` of CPU time per notebook, in the
    bubblewrap sandbox (``sandbox_mode`` "on", "off", or "auto": wherever the worker allows it).
    ``duedates`` ("ASSIGNMENT=WHEN" or "WHEN" for all) and ``late_penalty`` ("none", "zero",
    "P%/day") apply nbgrader's late-submission rules to submissions that carry a ``timestamp.txt``.
    The engine: ``jobs`` local processes, or a Dask cluster (``scheduler`` address, or ``cluster``
    "local", "slurm" or "pbs" with ``cluster_config``). ``resume`` keeps what the last run recorded;
    ``students`` grades only those students (the others' records stay).
    """
    policy = late.parse_penalty(late_penalty)
    limits = {"memory_mb": memory_mb, "cpu_seconds": cpu_seconds}
    if not scheduler and cluster in (None, "local"):  # the workers run here: decide (and refuse) before anything
        _, sandbox_note = choose_sandbox(sandbox_mode)
        if sandbox_note and sandbox_mode == "auto":
            print(f"warning: grading without the sandbox: {sandbox_note}", file=sys.stderr)
    prepare_environment()
    quiet_library_warnings()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    due = late.parse_duedates(duedates, assignments())
    subs = discover(submissions, checked=False)  # checked by the workers: grader.submissions
    if students:
        unknown = sorted(set(students) - {sub.student for sub in subs})
        if unknown:
            raise CourseError(f"--student {', '.join(unknown)}: no such student folder in {submissions}")
        subs = [sub for sub in subs if sub.student in students]
    handed_in = sorted({sub.assignment for sub in subs} & set(assignments()))
    if handed_in:  # records their source cells in this gradebook (the others': when they are handed in)
        release(handed_in, out=workdir / "release", workdir=workdir)
    late.record_duedates(workdir, due)
    late.write_policy(workdir, policy)
    staged = workdir / "submitted"
    if staged.exists() and not resume and not students:
        shutil.rmtree(staged)
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    run = run_id(workdir, resume)
    settings = grade_task.settings(timeout, limits, sandbox_mode, sandbox.hidden_paths(workdir, submissions))
    with Status(workdir) as status:
        todo, tasks = [], []
        for sub in subs:
            if resume and (status.get(sub.key) or {}).get("run") == run:
                continue  # recorded by the run this one resumes
            raw = locate(sub)
            if raw is None:
                status[sub.key] = {"status": "failed", "reason": sub.fatal, "run": run, **log(logs, sub, sub.detail)}
                continue
            todo.append(sub)
            tasks.append({"student": sub.student, "assignment": sub.assignment, "timestamp": timestamp(sub),
                          "name": sub.notebook.name, "raw": raw, "repairs": list(sub.repairs)})
        results = engine.run(tasks, settings, jobs=jobs, scheduler=scheduler, cluster=cluster,
                             cluster_config=cluster_config)
        recorder = Recorder(workdir, config=driver_config(workdir))
        where = {"engine": engine_name(scheduler, cluster, jobs), "run": run}
        grader_errors, done = 0, 0
        try:
            for index, outcome in tqdm(results, total=len(tasks), desc="autograde", unit="notebook",
                                       disable=not progress):
                status[todo[index].key] = record(todo[index], outcome, recorder, staged, logs, timeout, limits, where)
                grader_errors += bool(outcome.get("grader_error"))
                done += 1
        except KeyboardInterrupt:
            raise CourseError(f"interrupted: {done} of {len(tasks)} submissions graded and recorded; the same "
                              "command with --resume grades the rest") from None
        finally:
            results.close()
            recorder.close()
    rows = export_grades(workdir, csv_path)
    return rows, grader_errors


def log(logs, sub, text):
    """Write ``text`` to the submission's log file; its entry in status.json (nothing when there is no text)."""
    if not text:
        return {}
    path = logs / f"{sub.student}__{sub.assignment}.log"
    path.write_text(text)
    return {"log": str(path)}


def record(sub, outcome, recorder, staged, logs, timeout, limits, where):
    """Take in a worker's outcome: the graded notebook, the gradebook's record, the log; return the status entry."""
    for name, found in outcome.get("checked", {}).items():  # the worker's check (none: it died before saying)
        setattr(sub, name, found)
    entry = {**status_entry(sub, outcome, timeout, limits), **where,
             **{k: outcome[k] for k in ("host", "worker", "sandbox_note") if k in outcome}}
    if outcome.get("fatal"):  # not gradable: no gradebook record, as for what the driver finds (locate)
        return {**entry, **log(logs, sub, outcome["log"])}
    if outcome.get("staged") is not None:
        stage(sub, staged, outcome["staged"])
    recorder.record(sub, outcome["autograded"] if entry["status"] != "failed" else None)
    return {**entry, "seconds": round(outcome["seconds"], 3), "sandboxed": outcome["sandboxed"],
            **log(logs, sub, outcome["log"] + "\n" + outcome["error"])}
