"""The worker's job: grade one submission in a private scratch course and return plain data.

A worker (a process of the local pool, or a Dask worker on any machine) keeps a scratch course
folder of its own: its own SQLite gradebook holding the release's source records (generated there
once per assignment), its own kernelspec and its kernels' launch log. A task ships the notebook's
bytes, which the worker checks and repairs (``grader.submissions.check``) before grading; the
result is a dict of strings, numbers, booleans and lists (per-part scores are in the autograded
notebook it carries, which ``grader.record`` saves into the instructor's gradebook).
Nothing the worker holds, no gradebook session and no kernel manager, ever leaves it.

Each kernel gets Unix sockets in a folder of its own and, in the sandbox, a fresh HOME, so nothing
one submission's kernel writes reaches the next. Whether the sandbox runs is decided per worker:
cluster nodes often forbid the user namespaces bubblewrap needs.
"""
import atexit
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import psutil

from grader import sandbox, zygote
from grader.course import install_grading_kernel, nbgrader_config, notebook_name, prepare_environment
from grader.verdicts import FatalCell

SCRATCH_PREFIX = "rnnw-"  # a worker's scratch folder: rnnw-<pid>-<random>, in the temp folder
TIMEOUT_MARK = "Timeout waiting for execute reply"  # nbgrader's log line when it interrupts a cell
MAX_SKIPPED_CELLS = 3  # a notebook whose cells keep killing the kernel is failed after this many

_lock = threading.Lock()  # a Dask worker may have several threads; nbgrader's state here is per process
_worker = None  # (settings as JSON, Worker) of this process


def quiet_library_warnings():
    """nbgrader 0.9.6 on SQLAlchemy 2 and nbformat 5 warns on every submission; it says nothing to instructors."""
    from nbformat.validator import MissingIDFieldWarning
    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)
    warnings.filterwarnings("ignore", category=MissingIDFieldWarning)


def settings(timeout, limits, sandbox_mode, hide):
    """What every worker of a run needs (plain data): ``hide`` are the driver's folders to hide from kernels."""
    return {"timeout": timeout, "limits": dict(limits), "sandbox_mode": sandbox_mode, "hide": list(hide)}


def where():
    """(host name, worker name): the Dask worker's address, or this process's id in the local pool."""
    worker = f"local pid {os.getpid()}"
    if "distributed" in sys.modules:
        from distributed import get_worker

        try:
            worker = get_worker().address
        except ValueError:  # not inside a Dask worker
            pass
    return socket.gethostname(), worker


def probe(sandbox_mode):
    """What a worker says before grading: its host, and why bubblewrap cannot run there ('' when it can)."""
    return {"host": socket.gethostname(), "reason": "" if sandbox_mode == "off" else sandbox.unavailable_reason()}


def remove_stale_scratch(folder=None):
    """Remove the scratch folders of this user's dead workers (a worker killed by a signal never runs atexit).

    Stale: named ``rnnw-<pid>-*``, a folder (not a link) of this user, and no process ``pid`` runs that started
    before the folder last changed (a pid reused since does not keep it).
    """
    for path in Path(folder or tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"):
        pid = path.name[len(SCRATCH_PREFIX):].split("-")[0]
        try:
            info = path.lstat()
            if not pid.isdigit() or info.st_uid != os.getuid():
                continue
            if psutil.Process(int(pid)).create_time() <= info.st_mtime:
                continue  # its worker (or, at worst, a process as old as it) still runs
        except psutil.NoSuchProcess:
            pass
        except OSError:  # gone meanwhile (another worker cleaning up too)
            continue
        shutil.rmtree(path, ignore_errors=True)  # refuses a link (and a file): only folders go


class Worker:
    """A worker's scratch course and nbgrader, set up once per process (nbgrader's import alone costs ~2 s)."""

    def __init__(self, settings):
        from nbgrader.apps import NbGraderAPI

        from grader.limited_kernel import LAUNCH_LOG_ENV

        # One thread for torch in this worker and its kernels (which inherit the variable): workers already use the
        # cores, and torch's default of a thread per core makes them fight (100x slower on a busy 2-core machine).
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        prepare_environment()
        quiet_library_warnings()
        mode = settings["sandbox_mode"]
        reason = "" if mode == "off" else sandbox.unavailable_reason()
        self.sandboxed = mode != "off" and not reason
        self.note = "no sandbox (--sandbox off)" if mode == "off" else f"no sandbox: {reason}" if reason else ""
        self.refusal = f"--sandbox on, but on {socket.gethostname()} {reason}" if mode == "on" and reason else ""
        remove_stale_scratch()
        self.scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))  # never bound into a kernel
        atexit.register(shutil.rmtree, self.scratch, True)
        self.course = self.scratch / "course"
        self.course.mkdir()
        hide = sandbox.hidden_paths(self.course) + [p for p in settings["hide"] if os.path.isdir(p)]
        self.hide = list(dict.fromkeys(hide)) if self.sandboxed else None
        self.launch_log = self.scratch / "launches.jsonl"
        os.environ[LAUNCH_LOG_ENV] = str(self.launch_log)  # kernels' launchers write it
        kernel_name = install_grading_kernel(self.course, **settings["limits"], hide=self.hide)
        self.sockets = None  # where kernels' socket folders go: in the zygote's folder when this worker has one
        try:  # kernels forked from an interpreter that has imported numpy and torch (grader.zygote)
            self.sockets, self.zygote = zygote.start(str(self.scratch), self.hide)
        except (OSError, RuntimeError) as err:
            print(f"warning: no grading zygote ({err}); each kernel starts from scratch", file=sys.stderr)
        # The socket path is replaced before every run; this one names no folder, so a run that kept it fails closed.
        config = nbgrader_config(self.course, timeout=settings["timeout"], kernel_name=kernel_name,
                                 kernel_socket=self.scratch / "no-such-folder" / "kernel")
        self.api = NbGraderAPI(config=config)
        self.released = set()

    def grade(self, task):
        """Check and grade ``task``; return plain data (``checked``: what ``grader.submissions.check`` found).

        A task: student, assignment, the notebook file's ``name`` and bytes (``raw``), the ``repairs`` the driver
        noted (a renamed file), the ``timestamp.txt`` text or None. The graded notebook comes back as ``staged``.
        """
        from grader.release import release
        from grader.submissions import CHECKED, Submission, check, staged_notebook

        host, worker = where()
        placed = {"host": host, "worker": worker, "sandbox_note": self.note}
        if self.refusal:
            return {"success": False, "refused": self.refusal, "log": "", "error": "", "seconds": 0.0,
                    "sandboxed": False, "autograded": None, **placed}
        student, assignment = task["student"], task["assignment"]
        start = time.perf_counter()
        sub = check(Submission(student, assignment, None, notebook=Path(task["name"]), repairs=list(task["repairs"])),
                    task["raw"])
        checked = {name: getattr(sub, name) for name in CHECKED}
        if sub.fatal:
            return {"success": False, "fatal": sub.fatal, "checked": checked, "log": sub.detail, "error": "",
                    "seconds": time.perf_counter() - start, "sandboxed": False, "autograded": None, **placed}
        staged = staged_notebook(sub)
        checking = time.perf_counter() - start
        if assignment not in self.released:  # the source records this scratch gradebook needs
            release([assignment], out=self.course / "release", workdir=self.course)
            self.released.add(assignment)
        folder = self.course / "submitted" / student / assignment
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / notebook_name(assignment)).write_text(staged)
        if task.get("timestamp") is not None:
            (folder / "timestamp.txt").write_text(task["timestamp"])
        try:
            outcome = self._grade_one(student, assignment)
            graded = self.course / "autograded" / student / assignment / notebook_name(assignment)
            outcome["autograded"] = graded.read_text() if outcome["success"] and graded.is_file() else None
        finally:
            for kind in ("submitted", "autograded"):
                shutil.rmtree(self.course / kind / student, ignore_errors=True)
        outcome["seconds"] += checking
        return {**outcome, "checked": checked, "staged": staged, **placed}

    def _autograde_in_fresh_socket_folder(self, assignment, student):
        """One nbgrader run, its kernel on sockets in a folder of its own, removed after; and the kernels' launches."""
        socket_dir = tempfile.mkdtemp(prefix="rnnk-", dir=self.sockets)  # short: Unix socket paths are limited to ~100 bytes
        self.launch_log.unlink(missing_ok=True)
        self.api.config.KernelManager.ip = str(Path(socket_dir) / "kernel")
        try:
            result = self.api.autograde(assignment, student, force=True, create=True)
        finally:
            shutil.rmtree(socket_dir, ignore_errors=True)
        log = self.launch_log
        launches = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return result, launches

    def _grade_one(self, student, assignment):
        """Autograde one submission; if a cell stops the whole run, grade it again without that cell.

        A kernel that dies before running any cell is the machine's fault, not the student's: one more try.
        ``sandboxed`` in the result says whether every kernel it ran in was started in the sandbox.
        """
        start, skipped, logs, retried_start, launches = time.perf_counter(), [], [], False, []
        FatalCell.skip = {}
        try:
            while True:
                FatalCell.last, FatalCell.started = None, False
                result, started = self._autograde_in_fresh_socket_folder(assignment, student)
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
                "error": result.get("error") or "", "seconds": time.perf_counter() - start,
                "skipped": [list(s) for s in skipped],
                "no_cell_ran": not result["success"] and not FatalCell.started and kernel_trouble(logs[-1]),
                "sandboxed": enforced(launches, self.hide)}


def enforced(launches, hide):
    """Was every kernel of a submission started in the sandbox, hiding what it should? (False if none started.)"""
    return bool(launches) and hide is not None and all(
        launch["sandboxed"] and launch["hide"] == list(hide) for launch in launches)


def kernel_trouble(log):
    """Does nbgrader's log say the kernel died or never answered?"""
    return any(mark in log for mark in ("DeadKernelError", "Kernel died", "kernel died", "Kernel didn't respond"))


def _worker_for(settings):
    global _worker
    key = json.dumps(settings, sort_keys=True)
    if _worker is None or _worker[0] != key:
        _worker = (key, Worker(settings))
    return _worker[1]


def warm(settings):
    """Set the worker up before its first task (the local pool's initializer).

    If that fails, the first task sets up again and returns the error as its outcome: an initializer that raises
    would end its process, which breaks the pool and looks like a task that killed its worker.
    """
    try:
        with _lock:
            _worker_for(settings)
    except Exception:  # raised again by the task, which returns it as its outcome
        pass


def grade(settings, task):
    """The task: grade one submission on this worker (one at a time per process) and return plain data."""
    with _lock:
        return _worker_for(settings).grade(task)
