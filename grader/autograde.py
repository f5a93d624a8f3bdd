"""Grade a folder of submissions in parallel and record a status for every one of them.

Each worker process imports nbgrader once and grades many submissions (nbgrader's own
start-up costs about 2 s per process). Each kernel gets Unix sockets in a folder of its own
(and, in the sandbox, a fresh HOME), so nothing one submission's kernel writes reaches the next.
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

from grader import late, sandbox, zygote
from grader.course import CourseError, assignments, install_grading_kernel, nbgrader_config, prepare_environment
from grader.export import export_grades
from grader.release import release
from grader.submissions import discover, stage
from grader.verdicts import FatalCell

_api = None  # one NbGraderAPI per worker process
_private = None  # the worker's private folder (its launch log)
_sockets = None  # where kernels' socket folders go: in the zygote's folder when the worker has a zygote
TIMEOUT_MARK = "Timeout waiting for execute reply"  # nbgrader's log line when it interrupts a cell
MAX_SKIPPED_CELLS = 3  # a notebook whose cells keep killing the kernel is failed after this many


def quiet_library_warnings():
    """nbgrader 0.9.6 on SQLAlchemy 2 and nbformat 5 warns on every submission; it says nothing to instructors."""
    from nbformat.validator import MissingIDFieldWarning
    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)
    warnings.filterwarnings("ignore", category=MissingIDFieldWarning)


def _start_worker(workdir, timeout, limits, hide):
    """Per worker: nbgrader once, the kernelspec (sandboxed unless hide is None), and a private launch log."""
    global _api, _private, _sockets
    # One thread for torch in this worker and its kernels (which inherit the variable): workers already use the
    # cores, and torch's default of a thread per core makes them fight (100x slower on a busy 2-core machine).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    prepare_environment()
    quiet_library_warnings()
    from nbgrader.apps import NbGraderAPI

    from grader.limited_kernel import LAUNCH_LOG_ENV

    _private = tempfile.mkdtemp(prefix="rnnw-")  # the worker's own: never bound into a kernel
    atexit.register(shutil.rmtree, _private, True)
    os.environ[LAUNCH_LOG_ENV] = str(Path(_private) / "launches.jsonl")  # kernels' launchers write it
    kernel_name = install_grading_kernel(workdir, **limits, hide=hide)
    try:  # kernels forked from an interpreter that has imported numpy and torch (grader.zygote)
        _sockets, _ = zygote.start(_private, hide)
    except (OSError, RuntimeError) as err:
        print(f"warning: no grading zygote ({err}); each kernel starts from scratch", file=sys.stderr)
    # The socket path is replaced before every run; this one names no folder, so a run that kept it fails closed.
    config = nbgrader_config(workdir, timeout=timeout, kernel_name=kernel_name,
                             kernel_socket=Path(_private) / "no-such-folder" / "kernel")
    late.configure(config, workdir)
    _api = NbGraderAPI(config=config)


def _autograde_in_fresh_socket_folder(assignment, student):
    """One nbgrader run, its kernel on sockets in a folder of its own, removed after; and the kernels' launches."""
    socket_dir = tempfile.mkdtemp(prefix="rnnk-", dir=_sockets)  # short: Unix socket paths are limited to ~100 bytes
    log = Path(_private) / "launches.jsonl"
    log.unlink(missing_ok=True)
    _api.config.KernelManager.ip = str(Path(socket_dir) / "kernel")
    try:
        result = _api.autograde(assignment, student, force=True, create=True)
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)
    launches = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, launches


def enforced(launches, hide):
    """Was every kernel of a submission started in the sandbox, hiding what it should? (False if none started.)"""
    return bool(launches) and hide is not None and all(
        launch["sandboxed"] and launch["hide"] == list(hide) for launch in launches)


def _grade_one(student, assignment, hide=None):
    """Autograde one submission; if a cell stops the whole run, grade it again without that cell.

    A kernel that dies before running any cell is the machine's fault, not the student's: one more try.
    ``sandboxed`` in the result says whether every kernel it ran in was started in the sandbox.
    """
    start, skipped, logs, retried_start, launches = time.perf_counter(), [], [], False, []
    FatalCell.skip = {}
    try:
        while True:
            FatalCell.last, FatalCell.started = None, False
            result, started = _autograde_in_fresh_socket_folder(assignment, student)
            launches += started
            logs.append((result.get("log") or "") + (result.get("error") or ""))
            if not result["success"] and not FatalCell.started and not retried_start and kernel_trouble(logs[-1]):
                retried_start = True
                continue
            if result["success"] or FatalCell.last is None or len(skipped) == MAX_SKIPPED_CELLS:
                break
            index, grade_id, what = FatalCell.last
            skipped.append((index, grade_id, what))
            FatalCell.skip[index] = f"this cell was not run: when graded, it {what}"
    finally:
        FatalCell.skip = {}
    return {"success": result["success"], "log": "\n---- graded again ----\n".join(logs),
            "error": result.get("error") or "", "seconds": time.perf_counter() - start, "skipped": skipped,
            "no_cell_ran": not result["success"] and not FatalCell.started and kernel_trouble(logs[-1]),
            "sandboxed": enforced(launches, hide)}


def kernel_trouble(log):
    """Does nbgrader's log say the kernel died or never answered?"""
    return any(mark in log for mark in ("DeadKernelError", "Kernel died", "kernel died", "Kernel didn't respond"))


def failure_reason(outcome, timeout, limits=None):
    """Say in one line, in plain words, why a notebook could not be graded and what to do; never an exception's text.

    The log keeps nbgrader's traceback.
    """
    text = outcome["log"] + "\n" + outcome["error"]
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
              memory_mb=4096, cpu_seconds=600, sandbox_mode="auto", duedates=(), late_penalty="none"):
    """Grade every submission under ``submissions``; write ``status.json`` and the grades CSV.

    Returns the CSV rows. A submission the grader cannot grade gets status ``failed``
    with a reason; one that needs an instructor's look gets ``flagged``. Kernels run
    under ``memory_mb`` of address space and ``cpu_seconds`` of CPU time per notebook, in the
    bubblewrap sandbox (``sandbox_mode`` "on", "off", or "auto": when this machine allows it).
    ``duedates`` ("ASSIGNMENT=WHEN" or "WHEN" for all) and ``late_penalty`` ("none", "zero",
    "P%/day") apply nbgrader's late-submission rules to submissions that carry a ``timestamp.txt``.
    """
    policy = late.parse_penalty(late_penalty)
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
    late.record_duedates(workdir, late.parse_duedates(duedates, assignments()))
    late.write_policy(workdir, policy)
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
            if sub.detail:  # what the reason does not say (a library's error) goes to the log
                log_file = logs / f"{sub.student}__{sub.assignment}.log"
                log_file.write_text(sub.detail)
                status[sub.key]["log"] = str(log_file)
        else:
            stage(sub, staged)
            todo.append(sub)

    grader_errors = 0
    if todo:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(todo))), mp_context=context,
                                 initializer=_start_worker, initargs=(str(workdir), timeout, limits, hide)) as pool:
            futures = {pool.submit(_grade_one, s.student, s.assignment, hide): s for s in todo}
            for future in tqdm(as_completed(futures), total=len(futures), desc="autograde", unit="notebook",
                               disable=not progress):
                sub = futures[future]
                try:
                    outcome = future.result()
                except Exception as err:  # the grader itself broke on this one; keep going with the rest
                    grader_errors += 1
                    outcome = {"success": False, "log": "", "error": repr(err), "seconds": 0.0, "sandboxed": False}
                log_file = logs / f"{sub.student}__{sub.assignment}.log"
                log_file.write_text(outcome["log"] + "\n" + outcome["error"])
                if not outcome["success"]:
                    entry = {"status": "failed", "reason": failure_reason(outcome, timeout, limits)}
                elif sub.problems or sub.deductions or TIMEOUT_MARK in outcome["log"] or outcome.get("skipped"):
                    interrupted = [f"a cell ran over the {timeout} s limit and was interrupted"] \
                        if TIMEOUT_MARK in outcome["log"] and not outcome.get("skipped") else []
                    skipped = [f"{sub.cell_words(index)}{f' ({grade_id})' if grade_id else ''} {what}: "
                               "graded again without it" for index, grade_id, what in outcome.get("skipped", [])]
                    withdraw_points(workdir, sub)
                    reasons = (sub.problems + [f"policy: {why}" for why in sub.deductions.values()]
                               + interrupted + skipped)
                    entry = {"status": "flagged", "reason": "; ".join(reasons)}
                else:
                    entry = {"status": "graded", "reason": ""}
                entry.update(seconds=round(outcome["seconds"], 3), log=str(log_file), sandboxed=outcome["sandboxed"])
                status[sub.key] = entry
    (workdir / "status.json").write_text(json.dumps(status, indent=1, sort_keys=True))
    rows = export_grades(workdir, csv_path)
    return rows, grader_errors
