"""Stand-in tasks for tests of ``grader.engine.local_pool``: module-level, so its spawned workers can run them."""
import os
import signal
import time
from pathlib import Path


def ready(settings):
    """The pool's initializer: nothing to set up."""


def work(settings, task):
    """Return the task's value and this worker's pid, after ``sleep`` seconds.

    ``started``: a file made when it starts; ``after``: wait (up to 60 s) for that file before the rest.
    Then ``kill``: end this worker as the OOM killer would (SIGKILL); ``kill_once``: the same, only the first time
    (a file at that path marks it done); ``raise``: an exception of the grader's own.
    """
    if task.get("started"):
        Path(task["started"]).touch()
    deadline = time.monotonic() + 60
    while task.get("after") and not os.path.exists(task["after"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(task.get("sleep", 0))
    once = task.get("kill_once")
    if task.get("kill") or (once and not os.path.exists(once)):
        if once:
            Path(once).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    if task.get("raise"):
        raise ValueError(task["raise"])
    return {"value": task["value"], "pid": os.getpid()}
