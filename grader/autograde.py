"""Grade a folder of submissions in parallel and record a status for every one of them.

Each worker process imports nbgrader once and grades many submissions (nbgrader's own
start-up costs about 2 s per process), with its kernel on a private Unix socket.
"""
import json
import multiprocessing
import shutil
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from grader.course import install_grading_kernel, nbgrader_config, prepare_environment
from grader.export import export_grades
from grader.release import release
from grader.submissions import discover, stage

_api = None  # one NbGraderAPI per worker process
TIMEOUT_MARK = "Timeout waiting for execute reply"  # nbgrader's log line when it interrupts a cell


def quiet_library_warnings():
    """nbgrader 0.9.6 on SQLAlchemy 2 and nbformat 5 warns on every submission; it says nothing to instructors."""
    from nbformat.validator import MissingIDFieldWarning
    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)
    warnings.filterwarnings("ignore", category=MissingIDFieldWarning)


def _start_worker(workdir, timeout, limits):
    global _api
    prepare_environment()
    quiet_library_warnings()
    from nbgrader.apps import NbGraderAPI

    kernel_name = install_grading_kernel(workdir, **limits)
    socket_dir = tempfile.mkdtemp(prefix="rnnk-")  # short: Unix socket paths are limited to ~100 bytes
    _api = NbGraderAPI(config=nbgrader_config(workdir, timeout=timeout, kernel_name=kernel_name,
                                              kernel_socket=Path(socket_dir) / "kernel"))


def _grade_one(student, assignment):
    start = time.perf_counter()
    result = _api.autograde(assignment, student, force=True, create=True)
    return {"success": result["success"], "log": result.get("log") or "",
            "error": result.get("error") or "", "seconds": time.perf_counter() - start}


def failure_reason(outcome, timeout, limits=None):
    """Say in one line why nbgrader could not grade a notebook."""
    text = outcome["log"] + "\n" + outcome["error"]
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


def load_status(workdir):
    path = Path(workdir) / "status.json"
    return json.loads(path.read_text()) if path.exists() else {}


def autograde(submissions, workdir, jobs=1, timeout=30, csv_path=None, progress=True,
              memory_mb=4096, cpu_seconds=600):
    """Grade every submission under ``submissions``; write ``status.json`` and the grades CSV.

    Returns the CSV rows. A submission the grader cannot grade gets status ``failed``
    with a reason; one that needs an instructor's look gets ``flagged``. Kernels run
    under ``memory_mb`` of address space and ``cpu_seconds`` of CPU time per notebook.
    """
    limits = {"memory_mb": memory_mb, "cpu_seconds": cpu_seconds}
    prepare_environment()
    quiet_library_warnings()
    workdir = Path(workdir).resolve()
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
                                 initializer=_start_worker, initargs=(str(workdir), timeout, limits)) as pool:
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
                elif sub.problems or sub.deductions or TIMEOUT_MARK in outcome["log"]:
                    interrupted = [f"a cell ran over the {timeout} s limit and was interrupted"] \
                        if TIMEOUT_MARK in outcome["log"] else []
                    withdraw_points(workdir, sub)
                    reasons = sub.problems + [f"policy: {why}" for why in sub.deductions.values()] + interrupted
                    entry = {"status": "flagged", "reason": "; ".join(reasons)}
                else:
                    entry = {"status": "graded", "reason": ""}
                entry.update(seconds=round(outcome["seconds"], 3), log=str(log_file))
                status[sub.key] = entry
    (workdir / "status.json").write_text(json.dumps(status, indent=1, sort_keys=True))
    rows = export_grades(workdir, csv_path)
    return rows, grader_errors
