"""Start an IPython kernel under resource limits, for grading untrusted notebooks.

The grader's kernelspec runs ``python -m grader.limited_kernel --memory-mb M --cpu-seconds S
-f {connection_file}``: the kernel gets an address-space cap (a huge allocation raises
MemoryError in the student's cell instead of taking the machine), a CPU-time cap for the whole
notebook (past it the kernel is killed, and the submission is reported failed), a cap on the
size of files it writes, and no core dumps. Then it becomes an ordinary ipykernel.
"""
import argparse
import os
import resource
import sys

KERNEL_NAME = "rnn-course-limited"


def apply_limits(memory_mb, cpu_seconds, file_mb):
    mb = 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * mb, memory_mb * mb))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))  # SIGXCPU, then SIGKILL
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * mb, file_mb * mb))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def kernelspec(memory_mb, cpu_seconds, file_mb):
    """The kernel.json that starts this module with the given limits."""
    return {
        "argv": [sys.executable, "-m", "grader.limited_kernel", "--memory-mb", str(memory_mb),
                 "--cpu-seconds", str(cpu_seconds), "--file-mb", str(file_mb), "-f", "{connection_file}"],
        "display_name": f"Python 3 (grading: {memory_mb} MB, {cpu_seconds} s CPU)",
        "language": "python",
    }


def parser():
    p = argparse.ArgumentParser(prog="python -m grader.limited_kernel", description=__doc__.splitlines()[0])
    p.add_argument("--memory-mb", type=int, default=4096, help="address-space cap (default: %(default)s)")
    p.add_argument("--cpu-seconds", type=int, default=600, help="CPU time for the whole notebook (default: %(default)s)")
    p.add_argument("--file-mb", type=int, default=256, help="largest file the kernel may write (default: %(default)s)")
    p.add_argument("-f", dest="connection_file", required=True, help="the kernel's connection file")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    apply_limits(args.memory_mb, args.cpu_seconds, args.file_mb)
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", args.connection_file])


if __name__ == "__main__":
    main()
