"""Dask workers as batch jobs (Slurm, PBS) through dask-jobqueue, configured by one TOML file.

``autograde --cluster slurm|pbs --cluster-config FILE`` calls ``make_cluster``: it reads and checks the
file (every mistake is a ``CourseError`` naming the file and the key), asks the batch system whether it
would accept such a job (Slurm: ``sbatch --test-only``), then starts the Dask scheduler here and submits
``jobs`` batch jobs, each running Dask workers with the course's Python on a node.
With ``tls_directory`` scheduler and workers talk TLS with a fresh key, so nobody else can use the scheduler.
``grader/cluster.example.toml`` documents every key.
"""
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import dask
from dask.utils import parse_bytes

from grader.course import CourseError

KINDS = {"slurm": "sbatch", "pbs": "qsub"}  # batch system -> the command that submits its jobs
# key -> (type, required, what it is); types are checked, strings may not be empty
KEYS = {
    "jobs": (int, True, "number of batch jobs to submit"),
    "cores": (int, True, "cores per job"),
    "memory": (str, True, 'memory per job, e.g. "4GB"'),
    "processes": (int, False, "Dask worker processes per job (default: cores); each grades one notebook at a time"),
    "walltime": (str, False, 'time limit per job, "HH:MM:SS" (default "00:30:00")'),
    "queue": (str, False, "Slurm partition or PBS queue (default: the system's default)"),
    "account": (str, False, "account charged for the jobs"),
    "python": (str, False, "the Python on the nodes, with the course installed (default: this one)"),
    "job_directives": (list, False, 'extra #SBATCH / #PBS lines, e.g. ["--constraint=skylake"]'),
    "prologue": (list, False, 'shell lines run before the worker starts, e.g. ["module load python"]'),
    "local_directory": (str, False, "fast node-local scratch folder for the workers, e.g. $TMPDIR"),
    "log_directory": (str, False, "folder (seen by the nodes) for the jobs' output and error files "
                      "(default: the batch system's, usually the folder the grader runs in)"),
    "interface": (str, False, 'network interface scheduler and workers talk on, e.g. "ib0"'),
    "job_name": (str, False, 'name of the batch jobs (default "rnn-grader")'),
    "tls_directory": (str, False, "folder on a filesystem the nodes share: with it, scheduler and workers talk TLS "
                      "with a fresh key written there, so only your jobs can use the scheduler"),
}


def read_config(path):
    """The settings in the TOML file at ``path``, checked: a dict with exactly the keys it sets."""
    if path is None:
        raise CourseError("--cluster slurm|pbs needs --cluster-config FILE (start from grader/cluster.example.toml)")
    path = Path(path)
    where = f"cluster configuration {path}"
    try:
        settings = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CourseError(f"{where} does not exist (start from grader/cluster.example.toml)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CourseError(f"{where} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(f"{where} is not valid TOML: {exc}") from None
    unknown = sorted(set(settings) - set(KEYS))
    if unknown:
        raise CourseError(f"{where}: unknown key(s) {', '.join(unknown)}; the keys are {', '.join(KEYS)}")
    for key, (kind, required, what) in KEYS.items():
        if key not in settings:
            if required:
                raise CourseError(f"{where}: missing key '{key}' ({what})")
            continue
        _check_value(where, key, settings[key], kind, what)
    processes = settings.get("processes", settings["cores"])
    if processes > settings["cores"]:
        raise CourseError(f"{where}: processes = {processes} is more than cores = {settings['cores']} "
                          "(each worker process needs at least one core)")
    return settings


def _check_value(where, key, value, kind, what):
    """Raise a CourseError unless ``value`` suits ``key``."""
    bad = f"{where}: '{key}' ({what})"
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise CourseError(f"{bad} must be a whole number of at least 1, not {value!r}")
    elif kind is str:
        if not isinstance(value, str) or not value.strip():
            raise CourseError(f"{bad} must be a non-empty string, not {value!r}")
    elif not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CourseError(f"{bad} must be a list of non-empty strings, not {value!r}")
    if key == "memory":
        try:
            parse_bytes(value)
        except ValueError:
            raise CourseError(f'{bad} is not an amount of memory: {value!r} (write e.g. "4GB")') from None
    if key == "tls_directory" and not Path(value).expanduser().is_dir():
        raise CourseError(f"{bad} is not a folder here: {value!r}")
    if key == "walltime" and not _is_walltime(value):
        raise CourseError(f'{bad} must look like "HH:MM:SS", not {value!r}')


def _is_walltime(value):
    """True for "[H]H:MM:SS" (hours may exceed 24, as both Slurm and PBS accept)."""
    parts = value.split(":")
    return (len(parts) == 3 and all(p.isdigit() for p in parts)
            and len(parts[1]) == len(parts[2]) == 2 and int(parts[1]) < 60 and int(parts[2]) < 60)


def job_options(settings):
    """dask-jobqueue's keyword arguments for these settings (the same for SLURMCluster and PBSCluster)."""
    options = {
        "cores": settings["cores"],
        "memory": settings["memory"],
        "processes": settings.get("processes", settings["cores"]),
        "python": settings.get("python", sys.executable),
        "job_name": settings.get("job_name", "rnn-grader"),
        "job_extra_directives": settings.get("job_directives", []),
        "job_script_prologue": settings.get("prologue", []),
    }
    for key in ("walltime", "queue", "account", "local_directory", "log_directory", "interface"):
        if key in settings:
            options[key] = settings[key]
    if "tls_directory" in settings:  # dask-jobqueue makes a temporary certificate and key, written there (0600)
        options["security"] = True
        options["shared_temp_directory"] = str(Path(settings["tls_directory"]).expanduser())
    return options


def cluster_class(kind):
    """dask-jobqueue's cluster class for ``kind`` ('slurm' or 'pbs')."""
    if kind not in KINDS:
        raise CourseError(f"unknown cluster kind {kind!r}: choose one of {', '.join(KINDS)}")
    from dask_jobqueue import PBSCluster, SLURMCluster
    return {"slurm": SLURMCluster, "pbs": PBSCluster}[kind]


def make_cluster(kind, config_path):
    """A started dask-jobqueue cluster of ``kind`` with the configured number of jobs submitted.

    The caller connects a ``distributed.Client`` to it and closes it after (closing cancels the jobs).
    """
    cls = cluster_class(kind)
    settings = read_config(config_path)
    submit = KINDS[kind]
    if shutil.which(submit) is None:
        raise CourseError(f"--cluster {kind} submits jobs with '{submit}', which is not on PATH here: "
                          "run the grader on a login node of the cluster")
    # one task per worker at a time: a task queued on a worker that dies would count as a failure of it too
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
        cluster = cls(**job_options(settings))
    try:
        if kind == "slurm":
            _slurm_would_accept(cluster.job_script(), config_path)
        cluster.scale(jobs=settings["jobs"])
    except BaseException:
        cluster.close()
        raise
    return cluster


def _slurm_would_accept(script, config_path):
    """Ask Slurm (``sbatch --test-only``, nothing is queued) whether it accepts the job; say why not."""
    done = subprocess.run(["sbatch", "--test-only"], input=script, capture_output=True, text=True)
    if done.returncode:
        raise CourseError(f"Slurm refuses the worker job that cluster configuration {config_path} describes: "
                          f"{done.stderr.strip() or done.stdout.strip()}")
