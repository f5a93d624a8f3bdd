"""Start an IPython kernel under resource limits, for grading untrusted notebooks.

The grader's kernelspec runs ``python -m grader.limited_kernel --memory-mb M --cpu-seconds S
-f {connection_file}``: the kernel gets an address-space cap (a huge allocation raises
MemoryError in the student's cell instead of taking the machine), a CPU-time cap for the whole
notebook (past it the kernel is killed, and the submission is reported failed), a cap on the
size of files it writes, and no core dumps. Then it becomes an ordinary ipykernel.
With ``--sandbox`` it first re-starts itself inside bubblewrap (``grader.sandbox``): the folders
to hide come on its command line (``--hide``, from the kernelspec the grader writes, which no
kernel can reach), the only host folder it may write besides its own is the socket folder named
in its connection file (one per kernel), and each start is recorded, for ``status.json``, in
the file named by ``$RNN_GRADER_LAUNCH_LOG`` (a folder of the worker's that no kernel can see).
The gradebook's password variables (``SECRET_ENV``) are removed from the kernel's environment.
When the worker has a zygote (``$RNN_GRADER_ZYGOTE``, ``grader.zygote``), the kernel is forked from
it instead, with the same sandbox and limits; this process stands for it until it exits.
"""
import argparse
import array
import json
import os
import resource
import signal
import socket
import sys

from grader.selfcheck import SKIP_ENV

KERNEL_NAME = "rnn-course-limited"
LAUNCH_LOG_ENV = "RNN_GRADER_LAUNCH_LOG"
# Where PostgreSQL's client library finds the gradebook's password (grader.gradebook_db): no kernel inherits them.
SECRET_ENV = ("PGPASSWORD", "PGPASSFILE")
ZYGOTE_ENV = "RNN_GRADER_ZYGOTE"  # the control socket of the worker's zygote (grader.zygote), when it has one
ZYGOTE_MAX_MESSAGE = 1 << 20  # the longest message of the zygote's protocol
PR_SET_PDEATHSIG = 1


def apply_limits(memory_mb, cpu_seconds, file_mb):
    mb = 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * mb, memory_mb * mb))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))  # SIGXCPU, then SIGKILL
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * mb, file_mb * mb))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def limit_args(memory_mb, cpu_seconds, file_mb):
    return ["--memory-mb", str(memory_mb), "--cpu-seconds", str(cpu_seconds), "--file-mb", str(file_mb)]


def kernelspec(memory_mb, cpu_seconds, file_mb, hide=None):
    """The kernel.json that starts this module with the given limits (and in the sandbox, hiding ``hide``)."""
    sandbox = ["--sandbox", *(arg for path in hide for arg in ("--hide", path))] if hide is not None else []
    return {
        "argv": [sys.executable, "-m", "grader.limited_kernel", *limit_args(memory_mb, cpu_seconds, file_mb),
                 *sandbox, "-f", "{connection_file}"],
        "display_name": f"Python 3 (grading: {memory_mb} MB, {cpu_seconds} s CPU{', sandboxed' if sandbox else ''})",
        "language": "python",
        "env": {SKIP_ENV: "1"},  # the notebook's own self-check cell: the grader reports the parts itself
    }


def parser():
    p = argparse.ArgumentParser(prog="python -m grader.limited_kernel", description=__doc__.splitlines()[0])
    p.add_argument("--memory-mb", type=int, default=4096, help="address-space cap (default: %(default)s)")
    p.add_argument("--cpu-seconds", type=int, default=600, help="CPU time for the whole notebook (default: %(default)s)")
    p.add_argument("--file-mb", type=int, default=256, help="largest file the kernel may write (default: %(default)s)")
    p.add_argument("--sandbox", action="store_true", help="run inside bubblewrap")
    p.add_argument("--hide", action="append", default=[], metavar="PATH",
                   help="a folder the sandboxed kernel sees as an empty one (repeat it)")
    p.add_argument("-f", dest="connection_file", required=True, help="the kernel's connection file")
    return p


def socket_folder(connection_file):
    """The folder of the kernel's Unix sockets, from its connection file: the one host folder it may write."""
    with open(connection_file) as f:
        info = json.load(f)
    if info.get("transport") != "ipc" or not os.path.isdir(os.path.dirname(info.get("ip") or "/nonexistent/x")):
        sys.exit(f"--sandbox needs a kernel on Unix sockets in a folder of its own; {connection_file} has "
                 f"transport {info.get('transport')!r}, ip {info.get('ip')!r}")
    return os.path.dirname(info["ip"])


def record_launch(connection_file, sandboxed, hide=()):
    """Append what this start enforces to the worker's launch log (when the worker keeps one)."""
    log = os.environ.get(LAUNCH_LOG_ENV)
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"connection_file": os.path.abspath(connection_file), "sandboxed": sandboxed,
                                "hide": list(hide)}) + "\n")


def launch_from_zygote(control, connection_file, limits, sandboxed, hide):
    """Have the zygote fork this kernel and stand for it until it exits; its exit code, or None (not started)."""
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        conn.connect(control)
    except OSError:
        return None
    with open(connection_file) as f:
        connection = json.load(f)
    env = {k: v for k, v in os.environ.items() if k != LAUNCH_LOG_ENV}  # the kernel is not the launcher
    request = {"connection": connection, "connection_file": os.path.abspath(connection_file), "cwd": os.getcwd(),
               "env": env, "limits": limits, "sandboxed": sandboxed, "hide": list(hide)}
    cwd_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    fds = array.array("i", [cwd_fd, 1, 2])
    conn.sendmsg([json.dumps(request).encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
    os.close(cwd_fd)
    reply = json.loads(conn.recv(ZYGOTE_MAX_MESSAGE) or b'{"refused": "the zygote closed the connection"}')
    if "refused" in reply:
        print(f"grader.zygote: {reply['refused']}; starting the kernel without it", file=sys.stderr)
        return None
    record_launch(connection_file, reply["sandboxed"], reply["hide"])
    for signum, word in ((signal.SIGINT, b"INT"), (signal.SIGTERM, b"TERM")):
        signal.signal(signum, lambda *_, word=word: conn.send(word))
    while True:
        try:
            message = conn.recv(ZYGOTE_MAX_MESSAGE)
        except InterruptedError:
            continue
        if not message:
            return 1
        reply = json.loads(message)
        if "exit" in reply:
            return reply["exit"]


def die_with_worker():
    """Die with the worker that started this launcher (``$JPY_PARENT_PID``, set by jupyter_client; "1": none).

    Set before anything starts, then checked: a worker killed while this launcher started would otherwise leave
    behind a kernel nobody talks to, forever (bwrap's --die-with-parent would watch init by then).
    """
    worker = os.environ.get("JPY_PARENT_PID", "1")
    if not worker.isdigit() or worker == "1":
        return
    import ctypes

    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # kept through exec (bwrap, ipykernel)
    if os.getppid() != int(worker):
        sys.exit(f"grader.limited_kernel: the worker that started this kernel (pid {worker}) is gone")


def exit_like(code):
    """Leave as the forked kernel did: with its exit code, or killed by the same signal."""
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


def main(argv=None):
    args = parser().parse_args(argv)
    die_with_worker()
    for name in SECRET_ENV:
        os.environ.pop(name, None)
    control = os.environ.pop(ZYGOTE_ENV, None)
    if control:  # the worker's zygote forks the kernel (with the same sandbox and limits), or we start it below
        limits = {"memory_mb": args.memory_mb, "cpu_seconds": args.cpu_seconds, "file_mb": args.file_mb}
        code = launch_from_zygote(control, args.connection_file, limits, args.sandbox, args.hide)
        if code is not None:
            exit_like(code)
    if args.sandbox:
        from grader import sandbox

        inner = [sys.executable, "-m", "grader.limited_kernel",
                 *limit_args(args.memory_mb, args.cpu_seconds, args.file_mb), "-f", args.connection_file]
        cmd = sandbox.command(inner, hide=args.hide, writable=[socket_folder(args.connection_file)],
                              cwd=os.getcwd(), connection_file=os.path.abspath(args.connection_file))
        record_launch(args.connection_file, True, args.hide)
        os.environ.pop(LAUNCH_LOG_ENV, None)  # the kernel inside is not the launcher: it records nothing
        # An interrupt goes to the whole process group: bwrap must survive it (and pass on the ignore, which
        # ipykernel overrides while it runs a cell) or the kernel dies instead of stopping the cell.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.execv(cmd[0], cmd)
    record_launch(args.connection_file, False)
    apply_limits(args.memory_mb, args.cpu_seconds, args.file_mb)
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", args.connection_file])


if __name__ == "__main__":
    main()
