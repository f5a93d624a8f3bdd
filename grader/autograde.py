"""Grade a folder of submissions in parallel and record a status for every one of them.

Each worker process imports nbgrader once and grades many submissions (nbgrader's own
start-up costs about 2 s per process), with its kernel on a private Unix socket.
"""
import atexit
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from grader import sandbox
from grader.course import CourseError, install_grading_kernel, nbgrader_config, prepare_environment
from grader.export import export_grades
from grader.release import release
from grader.submissions import discover, stage
from grader.verdicts import FatalCell

_api = None  # one NbGraderAPI per worker process
TIMEOUT_MARK = "Timeout waiting for execute reply"  # nbgrader's log line when it interrupts a cell
MAX_SKIPPED_CELLS = 3  # a notebook whose cells keep killing the kernel is failed after this many


def quiet_library_warnings():
    """nbgrader 0.9.6 on SQLAlchemy 2 and nbformat 5 warns on every submission; it says nothing to instructors."""
    from nbformat.validator import MissingIDFieldWarning
    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)
    warnings.filterwarnings("ignore", category=MissingIDFieldWarning)


def _start_worker(workdir, timeout, limits, hide):
    """Per worker: nbgrader once, a private folder for kernel sockets, and the sandbox's settings (unless hide is None)."""
    global _api
    # One thread for torch in this worker and its kernels (which inherit the variable): workers already use the
    # cores, and torch's default of a thread per core makes them fight (100x slower on a busy 2-core machine).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    prepare_environment()
    quiet_library_warnings()
    from nbgrader.apps import NbGraderAPI

    from grader.limited_kernel import SANDBOX_ENV

    socket_dir = tempfile.mkdtemp(prefix="rnnk-")  # short: Unix socket paths are limited to ~100 bytes
    atexit.register(shutil.rmtree, socket_dir, True)
    if hide is not None:
        config = Path(socket_dir) / "sandbox.json"
        config.write_text(json.dumps({"hide": hide, "writable": [socket_dir],
                                      "home": str(sandbox.scratch_home(socket_dir))}))
        os.environ[SANDBOX_ENV] = str(config)
    kernel_name = install_grading_kernel(workdir, **limits, sandbox=hide is not None)
    _api = NbGraderAPI(config=nbgrader_config(workdir, timeout=timeout, kernel_name=kernel_name,
                                              kernel_socket=Path(socket_dir) / "kernel"))


def _grade_one(student, assignment):
    """Autograde one submission; if a cell stops the whole run, grade it again without that cell.

    A kernel that dies before running any cell is the machine's fault, not the student's: one more try.
    """
    start, skipped, logs, retried_start = time.perf_counter(), [], [], False
    FatalCell.skip = {}
    try:
        while True:
            FatalCell.last, FatalCell.started = None, False
            result = _api.autograde(assignment, student, force=True, create=True)
            logs.append((result.get("log") or "") + (result.get("error") or ""))
            if not result["success"] and not FatalCell.started and not retried_start and kernel_trouble(logs[-1]):
                retried_start = True
                continue
            if result["success"] or FatalCell.last is None or len(skipped) == MAX_SKIPPED_CELLS:
                break
            index, grade_id, what = FatalCell.last
            skipped.append(f"cell {index + 1}{f' ({grade_id})' if grade_id else ''} {what}")
            FatalCell.skip[index] = f"this cell was not run: when graded, it {what}"
    finally:
        FatalCell.skip = {}
    return {"success": result["success"], "log": "\n---- graded again ----\n".join(logs),
            "error": result.get("error") or "", "seconds": time.perf_counter() - start, "skipped": skipped,
            "no_cell_ran": not result["success"] and not FatalCell.started and kernel_trouble(logs[-1])}


def kernel_trouble(log):
    """Does nbgrader's log say the kernel died or never answered?"""
    return any(mark in log for mark in ("DeadKernelError", "Kernel died", "kernel died", "Kernel didn't respond"))


def failure_reason(outcome, timeout, limits=None):
    """Say in one line why nbgrader could not grade a notebook."""
    text = outcome["log"] + "\n" + outcome["error"]
    if outcome.get("no_cell_ran"):
        lines = [line for line in outcome["error"].splitlines() if line.strip()]
        return ("the grading kernel could not start (tried twice; a memory cap too small for Python and torch?): "
                + (lines[-1][:200] if lines else "see the log"))
    if "CellTimeoutError" in text or "TimeoutError" in text:
        return f"a cell ran longer than the {timeout} s limit (an endless loop?), so the notebook was not graded"
    if "DeadKernelError" in text or "Kernel died" in text or "kernel died" in text:
        cap = f", or the {limits['cpu_seconds']} s CPU-time cap" if limits else ""
        return f"the kernel died while running the notebook (os._exit, a crash{cap})"
    lines = [line for line in outcome["error"].splitlines() if line.strip()]
    return "autograde failed: " + (lines[-1][:300] if lines else "see the log")


def withdraw_points(workdir, sub):
    """Apply policy deductions: the named test cells score 0, whatever the tests said."""
    from nbgrader.api import Gradebook

    if not sub.deductions:
        return
    with Gradebook(nbgrader_config(workdir).CourseDirectory.db_url) as gb:
        notebook = gb.find_submission(sub.assignment, sub.student).notebooks[0]
        for grade in notebook.grades:
            if grade.name in sub.deductions:
                grade.auto_score = 0
        gb.db.commit()


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


def load_status(workdir):
    path = Path(workdir) / "status.json"
    return json.loads(path.read_text()) if path.exists() else {}


def autograde(submissions, workdir, jobs=1, timeout=30, csv_path=None, progress=True,
              memory_mb=4096, cpu_seconds=600, sandbox_mode="auto"):
    """Grade every submission under ``submissions``; write ``status.json`` and the grades CSV.

    Returns the CSV rows. A submission the grader cannot grade gets status ``failed``
    with a reason; one that needs an instructor's look gets ``flagged``. Kernels run
    under ``memory_mb`` of address space and ``cpu_seconds`` of CPU time per notebook, in the
    bubblewrap sandbox (``sandbox_mode`` "on", "off", or "auto": when this machine allows it).
    """
    limits = {"memory_mb": memory_mb, "cpu_seconds": cpu_seconds}
    sandboxed, sandbox_note = choose_sandbox(sandbox_mode)
    if sandbox_note and sandbox_mode == "auto":
        print(f"warning: grading without the sandbox: {sandbox_note}", file=sys.stderr)
    prepare_environment()
    quiet_library_warnings()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    hide = sandbox.hidden_paths(workdir, submissions) if sandboxed else None
    release(out=workdir / "release", workdir=workdir)  # records the source cells in this gradebook
    subs = discover(submissions)
    staged = workdir / "submitted"
    if staged.exists():
        shutil.rmtree(staged)
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    status = load_status(workdir)
    todo = []
    for sub in subs:
        if sub.fatal:
            status[sub.key] = {"status": "failed", "reason": sub.fatal}
        else:
            stage(sub, staged)
            todo.append(sub)

    grader_errors = 0
    if todo:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(todo))), mp_context=context,
                                 initializer=_start_worker, initargs=(str(workdir), timeout, limits, hide)) as pool:
            futures = {pool.submit(_grade_one, s.student, s.assignment): s for s in todo}
            for future in tqdm(as_completed(futures), total=len(futures), desc="autograde", unit="notebook",
                               disable=not progress):
                sub = futures[future]
                try:
                    outcome = future.result()
                except Exception as err:  # the grader itself broke on this one; keep going with the rest
                    grader_errors += 1
                    outcome = {"success": False, "log": "", "error": repr(err), "seconds": 0.0}
                log_file = logs / f"{sub.student}__{sub.assignment}.log"
                log_file.write_text(outcome["log"] + "\n" + outcome["error"])
                if not outcome["success"]:
                    entry = {"status": "failed", "reason": failure_reason(outcome, timeout, limits)}
                elif sub.problems or sub.deductions or TIMEOUT_MARK in outcome["log"] or outcome.get("skipped"):
                    interrupted = [f"a cell ran over the {timeout} s limit and was interrupted"] \
                        if TIMEOUT_MARK in outcome["log"] and not outcome.get("skipped") else []
                    skipped = [f"{what}: graded again without it" for what in outcome.get("skipped", [])]
                    withdraw_points(workdir, sub)
                    reasons = (sub.problems + [f"policy: {why}" for why in sub.deductions.values()]
                               + interrupted + skipped)
                    entry = {"status": "flagged", "reason": "; ".join(reasons)}
                else:
                    entry = {"status": "graded", "reason": ""}
                entry.update(seconds=round(outcome["seconds"], 3), log=str(log_file), sandboxed=sandboxed)
                status[sub.key] = entry
    (workdir / "status.json").write_text(json.dumps(status, indent=1, sort_keys=True))
    rows = export_grades(workdir, csv_path)
    return rows, grader_errors
