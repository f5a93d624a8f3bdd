"""A throw-away single-node Slurm on this machine (Debian's slurm-wlm and munge; `make slurm` installs them).

``single_node_slurm()`` writes a munge key and a ``slurm.conf`` (this host as controller and only node,
free TCP ports, no cgroups: ``proctrack/linuxproc`` and ``task/none``) into a temporary folder, starts
munged, slurmctld and slurmd as child processes, waits until ``sinfo`` shows the node idle, and on exit
cancels every job and stops the three daemons. Anything that goes wrong raises ``SlurmUnavailable``
with the command that failed and the daemons' logs. Needs root (slurmd starts jobs as their user).
Run as a script, it prints the ``SLURM_CONF`` to export and keeps the cluster up until Ctrl-C or SIGTERM.
"""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

COMMANDS = ("munged", "slurmctld", "slurmd", "sinfo", "sbatch", "squeue", "scancel")
SEARCH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])  # daemons live in sbin


def command(name):
    """The full path of a Slurm or munge program, or None."""
    return shutil.which(name, path=SEARCH)


class SlurmUnavailable(RuntimeError):
    """Slurm cannot run here; the message says which step failed and shows the logs."""


class Slurm:
    """A running single-node Slurm: ``conf`` (its slurm.conf), ``env`` (os.environ with SLURM_CONF), ``run``."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.conf = self.folder / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.node = socket.gethostname().split(".")[0]
        self.processes = {}

    def run(self, *command, check=True, timeout=60):
        """Run a Slurm client command against this cluster; its CompletedProcess (text)."""
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode:
            raise SlurmUnavailable(f"`{' '.join(command)}` exited {done.returncode}: "
                                   f"{done.stderr.strip() or done.stdout.strip()}\n{self.logs()}")
        return done

    def logs(self, lines=25):
        """The last lines of each daemon's log (for failure messages)."""
        parts = []
        for log in sorted(self.folder.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(parts)

    def start(self, name, *argv):
        """Start one daemon in the foreground as a child process (its output goes to NAME.out.log)."""
        log = open(self.folder / f"{name}.out.log", "w")
        self.processes[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                                start_new_session=True)
        log.close()

    def check_alive(self):
        """Raise SlurmUnavailable if a daemon has exited."""
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise SlurmUnavailable(f"{name} exited with status {proc.returncode}\n{self.logs()}")

    def wait_until_idle(self, timeout=60):
        """Wait until sinfo reports this node idle."""
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            self.check_alive()
            done = self.run("sinfo", "-h", "-n", self.node, "-o", "%T", check=False, timeout=20)
            state = done.stdout.strip() or done.stderr.strip()
            if state == "idle":
                return
            time.sleep(0.5)
        raise SlurmUnavailable(f"node {self.node} not idle after {timeout} s (sinfo says {state!r})\n{self.logs()}")

    def jobs(self):
        """Job ids in the queue (pending or running)."""
        return self.run("squeue", "-h", "-o", "%i").stdout.split()

    def stop(self):
        """Cancel every job, wait for the queue to empty, stop the daemons (slurmd first, munged last)."""
        try:
            if self.processes.get("slurmctld") and self.processes["slurmctld"].poll() is None:
                ids = self.jobs()
                if ids:
                    self.run("scancel", *ids, check=False)
                deadline = time.monotonic() + 30
                while self.jobs() and time.monotonic() < deadline:
                    time.sleep(0.5)
        finally:
            for name in ("slurmd", "slurmctld", "munged"):
                proc = self.processes.get(name)
                if proc is None or proc.poll() is not None:
                    continue
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def free_port():
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def node_line(node):
    """This machine's NodeName line as slurmd measures it (``slurmd -C``), addressed on 127.0.0.1."""
    done = subprocess.run([command("slurmd"), "-C"], capture_output=True, text=True)
    if done.returncode:
        raise SlurmUnavailable(f"`slurmd -C` exited {done.returncode}: {done.stderr.strip()}")
    fields = done.stdout.splitlines()[0].split()
    measured = [f for f in fields if not f.startswith("NodeName=")]
    return f"NodeName={node} NodeAddr=127.0.0.1 " + " ".join(measured) + " State=UNKNOWN"


def write_config(slurm):
    """The munge key and slurm.conf of a one-node cluster in ``slurm.folder``."""
    folder = slurm.folder
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    node = slurm.node
    slurm.conf.write_text("\n".join([
        f"ClusterName=test{os.getpid()}",
        f"SlurmctldHost={node}(127.0.0.1)",
        f"SlurmctldPort={free_port()}",
        f"SlurmdPort={free_port()}",
        "SlurmUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={folder}/munge.socket",
        f"StateSaveLocation={folder}/state",
        f"SlurmdSpoolDir={folder}/spool",
        f"SlurmctldPidFile={folder}/slurmctld.pid",
        f"SlurmdPidFile={folder}/slurmd.pid",
        f"SlurmctldLogFile={folder}/slurmctld.log",
        f"SlurmdLogFile={folder}/slurmd.log",
        # containers rarely give a delegated cgroup tree: track job processes by process group / parent
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core",
        "MpiDefault=none",
        "SwitchType=switch/none",
        "ReturnToService=2",
        "SlurmctldDebug=info",
        "SlurmdDebug=info",
        node_line(node),
        f"PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP",
        "",
    ]))


@contextlib.contextmanager
def single_node_slurm():
    """Start a one-node Slurm in a temporary folder; yield its ``Slurm``; cancel its jobs and stop it after."""
    missing = [name for name in COMMANDS if command(name) is None]
    if missing:
        raise SlurmUnavailable(f"not installed: {', '.join(missing)} (`make slurm` installs slurm-wlm and munge)")
    if os.geteuid() != 0:
        raise SlurmUnavailable("a single-node Slurm needs root here (slurmd runs jobs as their owner)")
    folder = Path(tempfile.mkdtemp(prefix="slurm-test-"))
    folder.chmod(0o711)  # munged wants its socket's folder searchable by everyone
    slurm = Slurm(folder)
    try:
        write_config(slurm)
        slurm.start("munged", command("munged"), "--foreground", "--force", f"--key-file={folder}/munge.key",
                    f"--socket={folder}/munge.socket", f"--pid-file={folder}/munged.pid",
                    f"--log-file={folder}/munged.log", f"--seed-file={folder}/munged.seed")
        deadline = time.monotonic() + 20
        while not (folder / "munge.socket").exists():
            slurm.check_alive()
            if time.monotonic() > deadline:
                raise SlurmUnavailable(f"munged made no socket in 20 s\n{slurm.logs()}")
            time.sleep(0.1)
        slurm.start("slurmctld", command("slurmctld"), "-D", "-i", "-f", str(slurm.conf))
        slurm.start("slurmd", command("slurmd"), "-D", "-f", str(slurm.conf))
        slurm.wait_until_idle()
        yield slurm
    finally:
        slurm.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    for stop_signal in (signal.SIGINT, signal.SIGTERM):  # a background job ignores SIGINT: stop on TERM too
        signal.signal(stop_signal, _interrupt)
    with single_node_slurm() as running:
        print(f"export SLURM_CONF={running.conf}   # Ctrl-C or kill PID stops the cluster", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
