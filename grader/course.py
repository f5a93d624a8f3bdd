"""Where things are, and the nbgrader configuration that maps the course onto the repository."""
import os
import sys
from pathlib import Path

from traitlets.config import Config

from grader.gradebook_db import gradebook_url

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"
DEFAULT_WORKDIR = Path(os.environ.get("RNN_COURSE_WORKDIR", REPO / ".grading"))


class CourseError(RuntimeError):
    """A problem the user can fix (bad input, missing build); the CLI prints it without a traceback."""


def assignments():
    """Assignment names: every ``solutions/<name>/<name>.ipynb``."""
    return sorted(p.parent.name for p in SOLUTIONS.glob("*/*.ipynb") if p.stem == p.parent.name)


def notebook_name(assignment):
    """Each assignment has one notebook, named like its folder."""
    return f"{assignment}.ipynb"


def prepare_environment():
    """Make nbgrader's helpers and the hidden-test modules reachable from here and from kernels.

    nbgrader starts ``alembic`` by name, so the interpreter's ``bin/`` must be on PATH;
    kernels inherit PYTHONPATH, which lets hidden tests import ``grader``.
    """
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(REPO) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), *paths])


def install_grading_kernel(workdir, memory_mb=4096, cpu_seconds=600, file_mb=256, hide=None):
    """Write the resource-limited kernelspec under ``workdir`` and make Jupyter find it (JUPYTER_PATH).

    With ``hide`` (a list of folders) the kernels start in the sandbox, hiding those folders; the list
    is on the kernelspec's command line, in the grading folder, which no kernel can see.
    """
    import json

    from grader.limited_kernel import KERNEL_NAME, kernelspec

    folder = Path(workdir).resolve() / "jupyter"
    spec = folder / "kernels" / KERNEL_NAME / "kernel.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps(kernelspec(memory_mb, cpu_seconds, file_mb, hide), indent=1))
    paths = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    if str(folder) not in paths:
        os.environ["JUPYTER_PATH"] = os.pathsep.join([str(folder), *paths])
    return KERNEL_NAME


def nbgrader_config(workdir, *, release=EXERCISES, submitted=None, timeout=30, kernel_socket=None,
                    kernel_name=None):
    """nbgrader settings for one run; every folder it writes is under ``workdir`` unless given."""
    workdir = Path(workdir).resolve()
    c = Config()
    c.CourseDirectory.root = str(workdir)
    c.CourseDirectory.source_directory = str(SOLUTIONS)
    c.CourseDirectory.release_directory = str(Path(release).resolve())
    c.CourseDirectory.submitted_directory = str(Path(submitted or workdir / "submitted").resolve())
    c.CourseDirectory.autograded_directory = str(workdir / "autograded")
    c.CourseDirectory.feedback_directory = str(workdir / "feedback")
    c.CourseDirectory.db_url = gradebook_url(workdir)  # SQLite in workdir unless --db named a server
    # nbgrader's default course id '' names no course row: SQLite ignores the assignment -> course foreign key,
    # PostgreSQL refuses it. This is the course its Gradebook creates by default.
    c.CourseDirectory.course_id = "default_course"
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__"]
    c.Execute.timeout = timeout
    c.Execute.interrupt_on_timeout = True
    # the outputs are in once the last cell has run: kill the kernel then, not after its graceful exit (~0.5-3 s)
    c.Execute.shutdown_kernel = "immediate"
    # nbgrader's autograde chain with one change: hidden tests are judged in the grader (grader.verdicts)
    c.Autograde.autograde_preprocessors = [
        "grader.verdicts.TrustedExecute", "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
        "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
        "nbgrader.preprocessors.CheckCellMetadata"]
    # deleted cells are put back by grader.repair before nbgrader sees the notebook (nbgrader's own
    # add_missing_cells raises KeyError for a test cell that follows a read-only cell)
    c.OverwriteCells.add_missing_cells = False
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    if kernel_name:
        c.Execute.kernel_name = kernel_name  # e.g. the resource-limited grading kernel
    if kernel_socket:
        # nbgrader's default TCP ports collide between parallel workers; a Unix socket per worker cannot.
        c.KernelManager.transport = "ipc"
        c.KernelManager.ip = str(kernel_socket)
    return c
