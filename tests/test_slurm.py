"""Real Slurm jobs on a throw-away single-node Slurm (tests/slurm_cluster.py); `make test-cluster` runs these.

If Slurm cannot run here the fixture raises SlurmUnavailable with the failing command and the daemons'
logs: these tests then error with that reason, they never skip.
"""
import csv
import io
import socket
import subprocess
import sys
import time

import pytest

from grader import clusters, sandbox
from grader.course import REPO, CourseError
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
                "job": os.environ.get("SLURM_JOB_ID"), "prologue": os.environ.get("RNN_TEST")}

    logs = tmp_path / "logs"
    logs.mkdir()
    path = tmp_path / "cluster.toml"
    path.write_text(f'jobs = 2\ncores = 1\nmemory = "1GB"\nwalltime = "00:10:00"\nqueue = "debug"\n'
                    f'python = "{sys.executable}"\nlog_directory = "{logs}"\nprologue = ["export RNN_TEST=1"]\n')
    cluster = clusters.make_cluster("slurm", path)
    try:
        assert cluster.scheduler.WORKER_SATURATION == 1.0  # a worker holds no queued second task
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
            assert report["prologue"] == "1", report  # the configured prologue ran in the job
        assert {r["job"] for r in reports.values()} == running
        assert client.submit(where_and_sandbox, pure=False).result(timeout=60)["job"] in running
        client.close()
    finally:
        cluster.close()
    assert wait_for_empty_queue(slurm_env) == [], "closing the cluster left jobs in the queue"


def test_with_a_tls_directory_only_holders_of_the_key_reach_the_scheduler(slurm_env, tmp_path):
    from distributed import Client
    from distributed.security import Security

    tls = tmp_path / "tls"
    tls.mkdir()
    path = tmp_path / "cluster.toml"
    path.write_text(f'jobs = 1\ncores = 1\nmemory = "1GB"\nwalltime = "00:10:00"\npython = "{sys.executable}"\n'
                    f'log_directory = "{tmp_path}"\ntls_directory = "{tls}"\n')
    cluster = clusters.make_cluster("slurm", path)
    try:
        address = cluster.scheduler_address
        assert address.startswith("tls://"), address
        keys = sorted(tls.iterdir())
        assert keys and all(oct(k.stat().st_mode & 0o777) == "0o600" for k in keys), keys
        assert str(tls) in cluster.job_script()  # the workers read the key from the shared folder
        with Client(cluster) as client:
            client.wait_for_workers(1, timeout=180)
            assert client.submit(lambda: 6 * 7).result(timeout=60) == 42
        with pytest.raises(OSError):  # a stranger's own certificate is refused (the TLS handshake fails)
            Client(address, security=Security.temporary(), timeout=5)
        with pytest.raises(OSError):  # so is plain TCP to the TLS port
            Client(address.replace("tls://", "tcp://"), timeout=5)
    finally:
        cluster.close()
    assert wait_for_empty_queue(slurm_env) == []


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
        slurm.run("sbatch", "--output=/dev/null", "--wrap", "sleep 317")
        assert len(slurm.jobs()) == 1
        conf = slurm.conf
    assert not conf.exists()
    patterns = (str(conf.parent), "sleep 317")  # the daemons and the job script mention the folder
    deadline = time.monotonic() + 15  # a cancelled job's processes may take a moment to exit
    while (leftover := [pid for pattern in patterns for pid in
                        subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()]):
        assert time.monotonic() < deadline, f"processes of the stopped cluster still run: {leftover}"
        time.sleep(0.5)


def test_autograde_through_slurm_gives_the_local_grades(slurm_env, tmp_path):
    """Two chapter 4 submissions (one right, one with a known mistake) graded here, then by Slurm-job workers."""
    from conftest import A, mistake_student, write_submission
    from submission_bank import banks, filled

    name, mistake = next((n, m) for (a, n), m in banks().items() if a == A)
    submissions = tmp_path / "submitted"
    write_submission(submissions, "correct", A, f"{A}.ipynb", filled(A))
    write_submission(submissions, mistake_student(A, name), A, f"{A}.ipynb", filled(A, {mistake.cell: mistake.code}))
    logs = tmp_path / "logs"
    logs.mkdir()
    config = tmp_path / "cluster.toml"
    config.write_text(f'jobs = 1\ncores = 1\nmemory = "4GB"\nwalltime = "00:20:00"\nqueue = "debug"\n'
                      f'python = "{sys.executable}"\nlog_directory = "{logs}"\n')
    grades = {}
    for engine, extra in (("local", ["--jobs", "1"]), ("slurm", ["--cluster", "slurm", "--cluster-config", str(config)])):
        done = subprocess.run([sys.executable, "-m", "grader", "autograde", str(submissions), "--quiet",
                               "--workdir", str(tmp_path / engine), *extra], env=slurm_env.env,
                              capture_output=True, text=True, cwd=REPO, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        grades[engine] = (tmp_path / engine / "grades.csv").read_text()
    assert grades["slurm"] == grades["local"]
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO(grades["local"]))}
    assert [row["status"] for row in rows.values()] == ["graded", "graded"], rows
    assert float(rows[mistake_student(A, name)]["score"]) < float(rows["correct"]["score"]), rows
    assert sorted(p.suffix for p in logs.iterdir()) == [".err", ".out"], "the workers did not run as one Slurm job"
    assert "Worker name:" in next(logs.glob("*.err")).read_text()
    assert wait_for_empty_queue(slurm_env) == []
