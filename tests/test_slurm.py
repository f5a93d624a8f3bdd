"""Real Slurm jobs on a throw-away single-node Slurm (tests/slurm_cluster.py); `make test-cluster` runs these.

If Slurm cannot run here the fixture raises SlurmUnavailable with the failing command and the daemons'
logs: these tests then error with that reason, they never skip.
"""
import socket
import subprocess
import sys
import time

import pytest

from grader import clusters, sandbox
from grader.course import CourseError
from slurm_cluster import single_node_slurm

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def slurm():
    with single_node_slurm() as running:
        yield running


@pytest.fixture
def slurm_env(slurm, monkeypatch):
    """This process talks to the test cluster (dask-jobqueue calls sbatch, squeue and scancel)."""
    monkeypatch.setenv("SLURM_CONF", str(slurm.conf))
    return slurm


def wait_for_empty_queue(slurm, timeout=60):
    deadline = time.monotonic() + timeout
    while slurm.jobs() and time.monotonic() < deadline:
        time.sleep(0.5)
    return slurm.jobs()


def test_sbatch_runs_a_job_on_this_node(slurm, tmp_path):
    out = tmp_path / "job.out"
    done = slurm.run("sbatch", "--wait", f"--output={out}", "--time=00:01:00",
                     "--wrap", "echo node=$SLURMD_NODENAME job=$SLURM_JOB_ID", timeout=120)
    job = done.stdout.split()[-1]  # "Submitted batch job N"
    assert out.read_text().split() == [f"node={slurm.node}", f"job={job}"]


def test_make_cluster_starts_dask_workers_as_slurm_jobs(slurm_env, tmp_path):
    from distributed import Client

    def where_and_sandbox():  # defined here so that it is pickled by value (workers cannot import tests/)
        """Runs on a Dask worker inside a Slurm job: can the grader's sandbox run there, and where is it."""
        import os
        import socket as sock

        import grader.sandbox
        return {"sandbox": grader.sandbox.unavailable_reason(), "host": sock.gethostname(),
                "job": os.environ.get("SLURM_JOB_ID")}

    logs = tmp_path / "logs"
    logs.mkdir()
    path = tmp_path / "cluster.toml"
    path.write_text(f'jobs = 2\ncores = 1\nmemory = "1GB"\nwalltime = "00:10:00"\nqueue = "debug"\n'
                    f'python = "{sys.executable}"\nlog_directory = "{logs}"\nprologue = ["export RNN_TEST=1"]\n')
    cluster = clusters.make_cluster("slurm", path)
    try:
        client = Client(cluster)
        client.wait_for_workers(2, timeout=180)
        queue = slurm_env.run("squeue", "-h", "-o", "%i %j %T %N").stdout.split("\n")
        running = {line.split()[0] for line in queue if line.split()[1:] == ["rnn-grader", "RUNNING", slurm_env.node]}
        assert len(running) == 2, queue
        reports = client.run(where_and_sandbox)
        assert len(reports) == 2
        for report in reports.values():
            assert report["host"] == socket.gethostname()
            assert report["sandbox"] == sandbox.unavailable_reason(), report
        assert {r["job"] for r in reports.values()} == running
        assert client.submit(where_and_sandbox, pure=False).result(timeout=60)["job"] in running
        client.close()
    finally:
        cluster.close()
    assert wait_for_empty_queue(slurm_env) == [], "closing the cluster left jobs in the queue"


def test_a_job_slurm_refuses_is_a_course_error(slurm_env, tmp_path):
    path = tmp_path / "cluster.toml"
    path.write_text('jobs = 1\ncores = 1\nmemory = "1GB"\nqueue = "nosuch"\n')
    with pytest.raises(CourseError, match="Slurm refuses the worker job .*invalid partition"):
        clusters.make_cluster("slurm", path)
    path.write_text('jobs = 1\ncores = 64\nmemory = "1GB"\n')
    with pytest.raises(CourseError, match="Slurm refuses the worker job"):
        clusters.make_cluster("slurm", path)
    assert slurm_env.jobs() == []


def test_stopping_the_cluster_cancels_its_jobs():
    with single_node_slurm() as slurm:
        slurm.run("sbatch", "--wrap", "sleep 300")
        assert len(slurm.jobs()) == 1
        conf = slurm.conf
    assert not conf.exists()
    for pattern in (str(conf.parent), "sleep 300"):
        leftover = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
        assert leftover == [], f"processes of the stopped cluster ({pattern}) still run: {leftover}"
