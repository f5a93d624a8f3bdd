"""A bubblewrap sandbox for the grading kernel: what student code can see, write and reach.

Inside, the course folder, the grading folder, the submissions and the home folder are
replaced by empty ones; only the interpreter, the installed packages, the few ``grader``
modules a kernel needs (the harness, the probes, the datasets) and the student's own
autograded folder come back (the last one writable). There is no network, no view of other
processes, no capabilities, and the kernel runs as ``nobody`` in its own user namespace.
``bwrap`` is Debian's ``bubblewrap`` package; ``grader.limited_kernel`` calls ``command``.
"""
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from grader.course import REPO

# What a kernel needs from the course package; everything else there (reference, hidden tests) stays hidden.
KERNEL_MODULES = ("grader/__init__.py", "grader/kernel_harness.py", "grader/stand_in.py", "grader/wire.py",
                  "grader/limited_kernel.py", "grader/probes", "grader/datasets.py")
NOBODY = "65534"


@functools.lru_cache(maxsize=None)
def unavailable_reason():
    """'' when bubblewrap can build a sandbox here, else why not (in words an instructor can act on)."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    probe = [bwrap, "--ro-bind", "/", "/", "--unshare-all", "--unshare-user", "--uid", NOBODY,
             "--gid", NOBODY, "--die-with-parent", "true"]
    done = subprocess.run(probe, capture_output=True, text=True)
    if done.returncode:
        return f"bwrap cannot create namespaces here ({done.stderr.strip()[:200]})"
    return ""


def hidden_paths(workdir, submissions=None):
    """Folders the kernel must not see: the course, the grading folder, the submissions, home, /tmp."""
    paths = [REPO, Path(workdir), Path.home(), Path("/tmp")]
    if submissions:
        paths.append(Path(submissions))
    return [str(Path(p).resolve()) for p in paths]


def scratch_home(folder):
    """A writable home for kernels (IPython's profile, matplotlib's font cache, copied once)."""
    home = Path(folder) / "home"
    mpl = home / "matplotlib"
    if not mpl.exists():
        mpl.mkdir(parents=True)
        for cache in (Path.home() / ".cache" / "matplotlib").glob("fontlist*.json"):
            shutil.copy(cache, mpl)
    return home


def command(inner, *, hide, writable, cwd, home, connection_file):
    """The bwrap command line that runs ``inner`` (argv) in the sandbox, in ``cwd``, with ``home`` as HOME."""
    cmd = [shutil.which("bwrap"), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
           "--tmpfs", "/dev/shm", "--unshare-all", "--unshare-user", "--uid", NOBODY, "--gid", NOBODY,
           "--cap-drop", "ALL", "--die-with-parent"]
    for path in hide:
        cmd += ["--tmpfs", path]
    exposed = {sys.base_prefix, sys.prefix, sys.exec_prefix}
    exposed |= {str(REPO / m) for m in KERNEL_MODULES}
    for path in sorted(exposed):  # parents before children
        if os.path.exists(path):
            cmd += ["--ro-bind", path, path]
    cmd += ["--ro-bind", connection_file, connection_file]  # the file only: it may sit in the host's /tmp
    for path in [*writable, str(home), cwd]:
        cmd += ["--bind", path, path]
    # ipykernel watches its parent's pid, which it cannot see from a new pid namespace; 1 means "do not watch"
    # (--die-with-parent does that job) and keeps its console banner quiet.
    cmd += ["--setenv", "JPY_PARENT_PID", "1", "--setenv", "HOME", str(home), "--setenv", "MPLCONFIGDIR", str(Path(home) / "matplotlib"),
            "--chdir", cwd, "--"]
    return cmd + list(inner)
