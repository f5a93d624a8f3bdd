"""A bubblewrap sandbox for the grading kernel: what student code can see, write and reach.

Inside, the course folder, the grading folder, the submissions, the home folder and /tmp are
replaced by empty ones; only the interpreter, the installed packages, the few ``grader``
modules a kernel needs (the harness, the probes, the datasets) and the student's own
autograded folder come back (the last one writable, with the kernel's own socket folder).
Each kernel gets a fresh, empty HOME (a tmpfs of its own), so nothing one kernel writes there
(IPython startup files, say) reaches the next. There is no network, no view of other
processes, no capabilities, and the kernel runs as ``nobody`` in its own user namespace.
``bwrap`` is Debian's ``bubblewrap`` package; ``grader.limited_kernel`` calls ``command``.
"""
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent  # the course folder (not from grader.course: no import cycle)
# What a kernel needs from the course package; everything else there (reference, hidden tests) stays hidden.
KERNEL_MODULES = ("grader/__init__.py", "grader/kernel_harness.py", "grader/stand_in.py", "grader/wire.py",
                  "grader/limited_kernel.py", "grader/selfcheck.py", "grader/probes", "grader/datasets.py",
                  "grader/zygote.py", "grader/fresh_view.py")
NOBODY = "65534"
HOME = "/tmp/home"  # inside the sandbox: a fresh tmpfs per kernel


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
    """Folders the kernel must not see: the course, the grading folder, the submissions, home, /tmp, and the
    gradebook server's socket folder."""
    from grader.gradebook_db import gradebook_url, socket_folders

    paths = [REPO, Path(workdir), Path.home(), Path("/tmp"), *socket_folders(gradebook_url(workdir))]
    if submissions:
        paths.append(Path(submissions))
    return [str(Path(p).resolve()) for p in paths]


def font_caches():
    """The grader's matplotlib font caches: shown read-only in each kernel's home (building one takes seconds)."""
    return sorted(str(p) for p in (Path.home() / ".cache" / "matplotlib").glob("fontlist*.json"))


def exposed():
    """Host paths every kernel sees read-only inside its hidden folders: the interpreter, its packages, KERNEL_MODULES."""
    paths = {sys.base_prefix, sys.prefix, sys.exec_prefix} | {str(REPO / m) for m in KERNEL_MODULES}
    return {p for p in paths if os.path.exists(p)}


def _base(hide):
    """The common start of both sandboxes: the host read-only, ``hide`` and /tmp emptied, ``exposed()`` put back."""
    cmd = [shutil.which("bwrap"), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
           "--tmpfs", "/dev/shm", "--unshare-all", "--unshare-user", "--uid", NOBODY, "--gid", NOBODY,
           "--cap-drop", "ALL", "--die-with-parent"]
    for path in dict.fromkeys([*hide, "/tmp"]):  # /tmp always: HOME lives in it
        cmd += ["--tmpfs", path]
    for path in sorted(exposed()):  # parents before children
        cmd += ["--ro-bind", path, path]
    return cmd


def _home(cmd):
    cmd += ["--tmpfs", HOME]
    for cache in font_caches():
        cmd += ["--ro-bind", cache, f"{HOME}/matplotlib/{Path(cache).name}"]
    # ipykernel watches its parent's pid, which it cannot see from a new pid namespace; 1 means "do not watch"
    # (--die-with-parent does that job) and keeps its console banner quiet.
    return cmd + ["--setenv", "JPY_PARENT_PID", "1", "--setenv", "HOME", HOME, "--setenv", "MPLCONFIGDIR",
                  f"{HOME}/matplotlib", "--unsetenv", "IPYTHONDIR"]


def command(inner, *, hide, writable, cwd, connection_file):
    """The bwrap command line that runs ``inner`` (argv) in the sandbox, in ``cwd``, with a fresh HOME.

    ``writable`` are the only host folders the kernel may write besides ``cwd`` (its socket folder).
    """
    cmd = _base(hide) + ["--ro-bind", connection_file, connection_file]  # the file only: it may sit in the host's /tmp
    for path in [*writable, cwd]:
        cmd += ["--bind", path, path]
    return _home(cmd) + ["--chdir", cwd, "--"] + list(inner)


def zygote_command(inner, *, hide, folder):
    """The bwrap command line of a worker's zygote (``grader.zygote``): the kernels' sandbox, with nothing writable.

    ``folder`` (the zygote's control socket, and the kernels' socket folders) is the one host folder bound
    writable; every tmpfs is made read-only, so nothing one forked kernel writes there reaches the next
    (each kernel covers /tmp, /dev/shm, ``folder`` and its grading folder with fresh ones of its own).
    """
    cmd = _home(_base(hide) + ["--bind", folder, folder])
    tops = [p for p in dict.fromkeys([*hide, "/tmp"]) if not any(p != q and Path(q) in Path(p).parents for q in hide)]
    for path in [*tops, HOME, "/dev"]:
        cmd += ["--remount-ro", path]
    return cmd + ["--chdir", "/", "--"] + list(inner)
