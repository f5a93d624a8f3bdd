"""``autograde --cluster pbs`` through Slurm's Torque compatibility wrappers (Debian's slurm-wlm-torque).

There is no PBS Pro, OpenPBS or Torque server here. What runs is dask-jobqueue's ``PBSCluster``: its job
script with ``#PBS`` directives, submitted with ``qsub`` and cancelled with ``qdel`` (the only two commands
it calls), which the wrappers hand to the throw-away single-node Slurm (``sbatch`` reads the ``#PBS`` lines).
So this checks the PBS job script and the command protocol, not a real PBS server's reading of them.
"""
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cluster_grading import graded_locally
from slurm_cluster import single_node_slurm

pytestmark = pytest.mark.cluster


def queued(slurm):
    """The queue's jobs as Slurm sees them: {job id: scontrol's fields}."""
    jobs = {}
    for job in slurm.jobs():
        fields = slurm.run("scontrol", "show", "job", job, check=False).stdout.split()
        jobs[job] = dict(field.split("=", 1) for field in fields if "=" in field)
    return jobs


def test_autograde_through_pbs_job_scripts_gives_the_local_grades(tmp_path, tmp_path_factory):
    assert shutil.which("qsub") and shutil.which("qdel"), "no qsub/qdel: `make slurm` installs slurm-wlm-torque"
    submissions, _, local = graded_locally(tmp_path_factory)
    config = tmp_path / "cluster.toml"
    config.write_text(f'jobs = 1\ncores = 1\nmemory = "4GB"\nwalltime = "00:20:00"\nqueue = "debug"\n'
                      f'job_name = "rnn-pbs"\npython = "{sys.executable}"\n')
    grader_folder = tmp_path / "login"  # the grader runs here: the wrappers' qsub puts the jobs' output here
    grader_folder.mkdir()
    with single_node_slurm() as slurm:
        command = [sys.executable, "-m", "grader", "autograde", str(submissions), "--quiet", "--workdir",
                   str(tmp_path / "pbs"), "--cluster", "pbs", "--cluster-config", str(config)]
        env = dict(slurm.env, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        grading = subprocess.Popen(command, env=env, cwd=grader_folder, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        seen = {}
        while grading.poll() is None and not seen:  # the job while it runs, as Slurm reads its #PBS lines
            seen = {job: fields for job, fields in queued(slurm).items() if fields.get("JobState") == "RUNNING"}
            time.sleep(0.5)
        out, err = grading.communicate(timeout=900)
        assert grading.returncode == 0, (out + err)[-3000:]
        deadline = time.monotonic() + 60
        while slurm.jobs() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert slurm.jobs() == [], "the grader left its jobs in the queue"
        controller_log = (slurm.folder / "slurmctld.log").read_text()
    assert (tmp_path / "pbs" / "grades.csv").read_text() == local
    assert len(seen) == 1, seen
    job, fields = next(iter(seen.items()))
    # #PBS -N, -q, -l select=1:ncpus=1:mem=3815MB (4 GB in MiB, rounded up), -l walltime
    assert (fields["JobName"], fields["Partition"], fields["NumCPUs"], fields["TimeLimit"]) == \
           ("rnn-pbs", "debug", "1", "00:20:00"), fields
    assert fields["MinMemoryNode"] == "3815M", fields
    assert f"REQUEST_KILL_JOB JobId={job} " in controller_log  # closing the cluster ran qdel on it
    script = Path(fields["Command"])  # dask-jobqueue's temporary job script, given to qsub
    assert script.suffix == ".sh", fields
    # the wrappers' qsub names the output files <script>.e<job> and .o<job>, in the folder it was called from
    errors = grader_folder / f"{script.name}.e{job}"
    assert fields["StdErr"] == str(errors), fields
    log = errors.read_text()
    assert "Worker name:" in log and "Registered to:" in log, log[-2000:]
    workers = {entry["worker"] for entry in json.loads((tmp_path / "pbs" / "status.json").read_text()).values()}
    assert len(workers) == 1 and next(iter(workers)) in log, (workers, log[-2000:])
