"""A zygote per grading worker: one interpreter imports numpy, torch and ipykernel once, then forks a kernel per notebook.

Starting a kernel and importing numpy and torch is most of what grading a short notebook
costs. The worker starts the zygote once (``start``), in a bubblewrap sandbox hiding the same
folders as a kernel's sandbox, and never runs student code in it. For each kernel, the
kernelspec's launcher (``grader.limited_kernel``) asks it over a Unix socket (``launch_from_zygote``); the
zygote forks a child that takes a private view of its own (``grader.fresh_view``: fresh /tmp,
HOME, /dev/shm and hidden folders, its own socket folder, no capabilities), copies the
notebook's folder into that view, applies the limits and becomes an ipykernel. The zygote is not
dumpable (a kernel cannot read or trace it) and forwards the launcher's interrupts; the kernel
dies when its launcher does. The launcher falls back to a per-kernel sandbox (or a plain start)
when there is no zygote, or when the zygote does not enforce what the kernelspec asks.
"""
import array
import json
import os
import selectors
import signal
import socket
import subprocess
import sys

FORK_ENV = "RNN_GRADER_FORK_KERNELS"  # "0": no zygote, every kernel starts from scratch (to compare, or to debug)
PRELOAD = ("numpy", "torch", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell",
           "IPython.core.completer", "grader.kernel_harness")
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
TMPFS_MB = 512  # each fresh tmpfs of a kernel (its RAM use is capped by this)


# ---- in the worker ----------------------------------------------------------------------------------------------

def start(private, hide):
    """Start this worker's zygote (sandboxed when ``hide`` is a list); return the folder for kernels' socket folders.

    Sets ``$RNN_GRADER_ZYGOTE`` so that kernels' launchers find it; the zygote dies with the worker.
    With ``$RNN_GRADER_FORK_KERNELS=0`` it starts nothing and returns (None, None).
    """
    if os.environ.get(FORK_ENV) == "0":
        return None, None
    from grader import sandbox
    from grader.limited_kernel import SECRET_ENV, ZYGOTE_ENV

    folder = os.path.join(private, "k")  # the zygote's control socket and, one at a time, a kernel's socket folder
    os.makedirs(folder, exist_ok=True)
    control = os.path.join(folder, "zygote")
    spec = {"control": control, "folder": folder, "sandboxed": hide is not None, "hide": list(hide or []),
            "exposed": sorted(sandbox.exposed()), "home": sandbox.HOME, "font_caches": sandbox.font_caches()}
    inner = [sys.executable, "-m", "grader.zygote", json.dumps(spec)]
    cmd = sandbox.zygote_command(inner, hide=hide, folder=folder) if hide is not None else inner
    # its stdin stays open while the worker lives: at end of file the zygote and its kernels go
    # no gradebook password in the zygote's environment: a forked kernel could read it in /proc/self/environ
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True, env=env)
    line = proc.stdout.readline()  # "ready" once the libraries are imported
    if line.strip() != b"ready":
        proc.kill()
        raise RuntimeError(f"the grading zygote did not start (exit {proc.wait()}): {line[:300]!r}")
    proc.stdout.close()
    os.environ[ZYGOTE_ENV] = control  # the worker's environment: its kernels' launchers inherit it
    return folder, proc


# ---- in the zygote ----------------------------------------------------------------------------------------------

def refusal(spec, request):
    """Why the zygote will not start this kernel ('' when it will)."""
    if request.get("sandboxed") != spec["sandboxed"] or request.get("hide") != spec["hide"]:
        return (f"the kernelspec asks for sandboxed={request.get('sandboxed')} hiding {request.get('hide')}, "
                f"the zygote enforces sandboxed={spec['sandboxed']} hiding {spec['hide']}")
    if request["connection"].get("transport") != "ipc":
        return "the kernel needs Unix sockets"
    if spec["sandboxed"]:
        from grader.fresh_view import under

        sockets = os.path.dirname(request["connection"]["ip"])
        if os.path.dirname(sockets) != spec["folder"]:
            return f"the kernel's socket folder {sockets} is not in the zygote's folder {spec['folder']}"
        if not any(under(request["cwd"], h) for h in [*spec["hide"], "/tmp"]):
            return f"the notebook's folder {request['cwd']} is not in a hidden folder"
    return ""


def copy_folder(src_fd, dest):
    """Copy the folder open as ``src_fd`` (the notebook's) into ``dest``; links stay links, none is followed."""
    for entry in os.scandir(src_fd):
        target = os.path.join(dest, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(entry.name, dir_fd=src_fd), target)
        elif entry.is_dir():
            fd = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=src_fd)
            try:
                os.mkdir(target)
                copy_folder(fd, target)
            finally:
                os.close(fd)
        elif entry.is_file():
            fd = os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=src_fd)
            with open(fd, "rb") as src, open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)


def _private_view(spec, request, cwd_fd, caches):
    """In the forked child: its own namespaces and tmpfs mounts, the notebook's folder copied in; returns env changes."""
    from grader import fresh_view

    cwd, sockets = request["cwd"], os.path.dirname(request["connection"]["ip"])
    fresh_view.enter_namespaces()
    fresh_view.cover(["/tmp", "/dev/shm", spec["folder"], *spec["hide"]], keep=[sockets, *spec["exposed"]],
                     size_mb=TMPFS_MB)
    os.makedirs(cwd, exist_ok=True)
    copy_folder(cwd_fd, cwd)
    home = spec["home"]
    os.makedirs(os.path.join(home, "matplotlib"), exist_ok=True)
    for name, data in caches.items():
        with open(os.path.join(home, "matplotlib", name), "wb") as f:
            f.write(data)
    fresh_view.drop_capabilities()
    return {"HOME": home, "MPLCONFIGDIR": os.path.join(home, "matplotlib")}


def _become_kernel(spec, request, fds, caches, close):
    """The forked child: never returns."""
    code = 1
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        os.setsid()
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        for thing in close:  # the zygote's sockets, selector and wake-up pipe: nothing of them stays in the kernel
            os.close(thing) if isinstance(thing, int) else thing.close()
        cwd_fd, out, err = fds
        null = os.open(os.devnull, os.O_RDONLY)
        for fd, to in ((null, 0), (out, 1), (err, 2)):
            os.dup2(fd, to)
            os.close(fd)
        env = dict(request["env"], JPY_PARENT_PID="1")  # 1: ipykernel does not watch; PDEATHSIG does that job
        env.pop("IPYTHONDIR", None)
        if spec["sandboxed"]:
            env.update(_private_view(spec, request, cwd_fd, caches))
            connection_file = "/tmp/kernel.json"
            with open(connection_file, "w") as f:
                json.dump(request["connection"], f)
        else:
            connection_file = request["connection_file"]
        os.close(cwd_fd)
        libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # the kernel itself is an ordinary process
        os.environ.clear()
        os.environ.update(env)
        from grader.limited_kernel import apply_limits

        limits = request["limits"]
        apply_limits(limits["memory_mb"], limits["cpu_seconds"], limits["file_mb"])
        os.chdir(request["cwd"])
        sys.path[0] = request["cwd"]  # as `python -m ipykernel_launcher` started there would have it
        sys.argv = ["ipykernel_launcher", "-f", connection_file]
        import numpy

        numpy.random.seed()  # a fresh process draws new entropy (Python's random module reseeds itself at fork)
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=["-f", connection_file])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - whatever stops the kernel ends the child, with its traceback
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _receive(conn):
    from grader.limited_kernel import ZYGOTE_MAX_MESSAGE

    message, ancillary, _, _ = conn.recvmsg(ZYGOTE_MAX_MESSAGE, socket.CMSG_SPACE(3 * array.array("i").itemsize))
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    return (json.loads(message) if message else None), list(fds)


def serve(spec):
    """Import the libraries, say "ready", then fork a kernel per request until the worker goes."""
    import ctypes
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    caches = {}
    for path in spec["font_caches"]:
        name = os.path.basename(path)
        with open(os.path.join(spec["home"], "matplotlib", name) if spec["sandboxed"] else path, "rb") as f:
            caches[name] = f.read()
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no kernel may trace this process or read its memory
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(spec["control"])
    listener.listen(8)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    selector.register(0, selectors.EVENT_READ)  # the worker's pipe: end of file when the worker is gone
    children = {}  # pid -> its launcher's connection
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            if key.fileobj is listener:
                conn, _ = listener.accept()
                request, fds = _receive(conn)
                why = "no request" if request is None or len(fds) != 3 else refusal(spec, request)
                if why:
                    conn.send(json.dumps({"refused": why}).encode())
                    conn.close()
                    for fd in fds:
                        os.close(fd)
                    continue
                pid = os.fork()
                if pid == 0:
                    _become_kernel(spec, request, fds, caches,
                                   [listener, *children.values(), conn, selector, wake_r, wake_w])
                for fd in fds:
                    os.close(fd)
                children[pid] = conn
                selector.register(conn, selectors.EVENT_READ, pid)
                conn.send(json.dumps({"started": pid, "sandboxed": spec["sandboxed"], "hide": spec["hide"]}).encode())
            elif key.fileobj == wake_r:
                os.read(wake_r, 4096)
            elif key.fileobj == 0:
                if not os.read(0, 4096):
                    for pid in children:
                        os.kill(pid, signal.SIGKILL)
                    return
            else:  # a launcher: an interrupt to pass on, or gone (then so is its kernel)
                pid, conn = key.data, key.fileobj
                try:
                    word = conn.recv(64)
                except OSError:
                    word = b""
                signum = {b"INT": signal.SIGINT, b"TERM": signal.SIGTERM}.get(word, signal.SIGKILL)
                try:
                    os.kill(pid, signum)
                except ProcessLookupError:
                    pass
                if signum == signal.SIGKILL:
                    selector.unregister(conn)
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = children.pop(pid, None)
            if conn is not None:
                try:
                    conn.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
                except OSError:
                    pass
                try:
                    selector.unregister(conn)
                except KeyError:  # its launcher had gone already
                    pass
                conn.close()

if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
