"""Grading over TLS: a Dask cluster that accepts only holders of its certificates.

By default: the client's TLS files are checked before anything is graded (none given, a file that is not
there, files that do not load, --tls-* without a tls:// scheduler). With ``make test-cluster``
(``-m cluster``): ``autograde --scheduler tls://...`` against a ``dask scheduler`` and a ``dask worker``
started here with TLS, and ``autograde --cluster slurm`` with ``tls_directory`` on the throw-away
single-node Slurm; both must give the local default's ``grades.csv``.
"""
import copy
import json
import os
import re
import subprocess
import sys
import time

import dask
import pytest

from cluster_grading import autograde, graded_locally, stop
from grader import dask_tls, engine
from grader.__main__ import main
from grader.course import CourseError
from slurm_cluster import single_node_slurm

cluster = pytest.mark.cluster
NO_CERTIFICATES = "talks TLS, but this grader has no CA certificate (--tls-ca-file or Dask's " \
                  "distributed.comm.tls.ca-file) and no client certificate (--tls-cert"


def write_certificates(folder):
    """A fresh self-signed certificate and key (as Security.temporary() makes them) in ``folder``, mode 0600."""
    from distributed.security import Security

    made = Security.temporary()
    folder.mkdir()
    files = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    for name, text in zip(files, (made.tls_ca_file, made.tls_client_cert, made.tls_client_key)):
        files[name].write_text(text)
        files[name].chmod(0o600)
    return files


def tls_options(files):
    return ["--tls-ca-file", files["ca"], "--tls-cert", files["cert"], "--tls-key", files["key"]]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return write_certificates(tmp_path_factory.mktemp("tls") / "cluster")


@pytest.fixture(scope="module")
def strangers(tmp_path_factory):
    return write_certificates(tmp_path_factory.mktemp("tls") / "stranger")


@pytest.fixture
def dask_config():
    """Dask's configuration as it was, restored after the test (--tls-* set it for the whole process)."""
    import distributed  # noqa: F401  (adds its defaults to the configuration: they must be in what is restored)

    saved = copy.deepcopy(dask.config.config)
    yield
    dask.config.config.clear()
    dask.config.config.update(saved)


def refusal(capsys, *argv):
    """The error `autograde` prints (it must exit 2 with a message, not a traceback)."""
    assert main(["autograde", "nowhere", *map(str, argv)]) == 2
    return capsys.readouterr().err


def test_a_tls_scheduler_needs_the_clients_certificates(capsys, dask_config):
    assert NO_CERTIFICATES in refusal(capsys, "--scheduler", "tls://127.0.0.1:1")


def test_tls_files_that_are_missing_or_do_not_load_are_named(capsys, dask_config, certificates, strangers, tmp_path):
    address = "tls://127.0.0.1:1"
    absent = tmp_path / "absent.pem"
    err = refusal(capsys, "--scheduler", address, "--tls-ca-file", certificates["ca"], "--tls-cert", absent)
    assert f"the client certificate {absent} (--tls-cert or Dask's distributed.comm.tls.client.cert) is not a " \
           "file here" in err
    err = refusal(capsys, "--scheduler", address, "--tls-ca-file", certificates["ca"], "--tls-cert",
                  certificates["cert"], "--tls-key", strangers["key"])
    assert f"the TLS files {certificates['ca']}, {certificates['cert']}, {strangers['key']} do not load" in err
    assert "KEY_VALUES_MISMATCH" in err
    err = refusal(capsys, "--scheduler", address, "--tls-ca-file", certificates["key"], "--tls-cert",
                  certificates["cert"], "--tls-key", certificates["key"])
    assert "do not load as a CA certificate, a certificate and its key" in err


def test_tls_options_need_a_tls_scheduler(capsys, dask_config, certificates):
    for where in (["--scheduler", "tcp://127.0.0.1:1"], ["--cluster", "local"], []):
        err = refusal(capsys, *where, "--tls-cert", certificates["cert"])
        assert "--tls-cert: only for --scheduler tls://HOST:PORT" in err, where


def test_dask_configuration_gives_the_client_its_files(dask_config, certificates):
    files = {key: str(certificates[name]) for key, name in (("ca-file", "ca"), ("client.cert", "cert"),
                                                            ("client.key", "key"))}
    dask.config.set({f"distributed.comm.tls.{key}": path for key, path in files.items()})
    security = dask_tls.scheduler_security("tls://127.0.0.1:1")
    assert [security.tls_ca_file, security.tls_client_cert, security.tls_client_key] == list(files.values())
    dask.config.set({"distributed.comm.tls.client.key": None})
    with pytest.raises(CourseError, match="without --tls-key the key must follow the certificate in its file"):
        dask_tls.scheduler_security("tls://127.0.0.1:1")
    dask.config.set({"distributed.comm.tls.client.cert": None})
    with pytest.raises(CourseError, match=r"no client certificate \(--tls-cert"):
        dask_tls.scheduler_security("tls://127.0.0.1:1")


class TLSCluster:
    """``dask scheduler`` and one ``dask worker`` on 127.0.0.1 that talk TLS with the given certificate only."""

    def __init__(self, folder, files):
        env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION="1.0")
        dask_cli = os.path.join(os.path.dirname(sys.executable), "dask")
        tls = ["--tls-ca-file", str(files["ca"]), "--tls-cert", str(files["cert"]), "--tls-key", str(files["key"])]
        scheduler_file = folder / "scheduler.json"
        self.logs = [folder / "scheduler.log", folder / "worker.log"]
        self.processes = [subprocess.Popen(
            [dask_cli, "scheduler", "--protocol", "tls", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file), *tls], env=env, cwd=folder, stdout=subprocess.DEVNULL,
            stderr=open(self.logs[0], "w"))]
        deadline = time.monotonic() + 120
        while not scheduler_file.exists() or "address" not in scheduler_file.read_text():
            assert time.monotonic() < deadline and self.processes[0].poll() is None, self.logs[0].read_text()
            time.sleep(0.5)
        time.sleep(0.5)
        self.address = json.loads(scheduler_file.read_text())["address"]
        self.processes.append(subprocess.Popen(
            [dask_cli, "worker", self.address, "--nthreads", "1", "--no-dashboard", "--name", "w1", *tls],
            env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=open(self.logs[1], "w")))
        from distributed import Client
        from distributed.security import Security

        security = Security(tls_ca_file=str(files["ca"]), tls_client_cert=str(files["cert"]),
                            tls_client_key=str(files["key"]), require_encryption=True)
        with Client(self.address, security=security, timeout=60) as client:
            client.wait_for_workers(1, timeout=180)

    def close(self):
        stop(self.processes)


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory, certificates):
    started = TLSCluster(tmp_path_factory.mktemp("tls-dask"), certificates)
    yield started
    started.close()


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    return graded_locally(tmp_path_factory)


def workers_of(workdir):
    return {entry["worker"] for entry in json.loads((workdir / "status.json").read_text()).values()}


@cluster
def test_autograde_through_a_tls_scheduler_gives_the_local_grades(tls_cluster, certificates, two, tmp_path):
    submissions, _, local = two
    autograde(submissions, tmp_path, "--scheduler", tls_cluster.address, *tls_options(certificates))
    assert (tmp_path / "grades.csv").read_text() == local
    entries = json.loads((tmp_path / "status.json").read_text()).values()
    assert {entry["engine"] for entry in entries} == {f"dask {tls_cluster.address}"}
    assert len(workers_of(tmp_path)) == 1 and next(iter(workers_of(tmp_path))).startswith("tls://127.0.0.1:")


@cluster
def test_a_tls_scheduler_refuses_a_grader_without_its_certificates(tls_cluster, strangers, two, tmp_path):
    submissions = two[0]
    done = autograde(submissions, tmp_path / "none", "--scheduler", tls_cluster.address, check=False)
    assert done.returncode == 2 and NO_CERTIFICATES in done.stderr and "Traceback" not in done.stderr, done.stderr
    done = autograde(submissions, tmp_path / "stranger", "--scheduler", tls_cluster.address, *tls_options(strangers),
                     check=False)
    assert done.returncode == 2 and "the TLS handshake failed" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "none").exists()  # refused before anything was written


@cluster
def test_dask_configuration_variables_reach_a_tls_scheduler(tls_cluster, certificates, dask_config):
    dask.config.set({"distributed.comm.tls.ca-file": str(certificates["ca"]),
                     "distributed.comm.tls.client.cert": str(certificates["cert"]),
                     "distributed.comm.tls.client.key": str(certificates["key"])})
    client, made = engine.cluster_client(scheduler=tls_cluster.address)
    try:
        assert made is None and client.submit(lambda: 6 * 7).result(timeout=60) == 42
    finally:
        client.close()


@cluster
def test_autograde_through_slurm_with_a_tls_directory_gives_the_local_grades(two, tmp_path):
    submissions, _, local = two
    tls, logs = tmp_path / "tls", tmp_path / "logs"
    tls.mkdir()
    logs.mkdir()
    config = tmp_path / "cluster.toml"
    config.write_text(f'jobs = 1\ncores = 1\nmemory = "4GB"\nwalltime = "00:20:00"\nqueue = "debug"\n'
                      f'python = "{sys.executable}"\nlog_directory = "{logs}"\ntls_directory = "{tls}"\n')
    with single_node_slurm() as slurm:
        autograde(submissions, tmp_path / "wd", "--cluster", "slurm", "--cluster-config", config, env=slurm.env)
        deadline = time.monotonic() + 60  # the grader cancels its jobs when it ends; Slurm takes a moment
        while slurm.jobs() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert slurm.jobs() == [], "the grader left its jobs in the queue"
    assert (tmp_path / "wd" / "grades.csv").read_text() == local
    workers = workers_of(tmp_path / "wd")
    assert len(workers) == 1 and next(iter(workers)).startswith("tls://"), workers
    worker_log = next(logs.glob("*.err")).read_text()
    assert re.search(r"Registered to: +tls://", worker_log), worker_log[-2000:]  # the job's worker talked TLS
    assert list(tls.iterdir()) == []  # dask-jobqueue removes the run's key when the cluster closes
