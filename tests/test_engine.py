"""The grader on a real Dask cluster, faults, resuming, and the same rows from every engine.

The ``cluster`` tests start a Dask scheduler and two workers as separate processes on 127.0.0.1
(``dask scheduler``, ``dask worker``) and grade a class of chapter 4 submissions through the
command line; they are slow, so ``make test-cluster`` (``pytest -m cluster``) runs them. The rest
run by default.
"""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from unittest import mock

import pytest

from conftest import A, hostile_and_broken, mistake_student, write_submission
from grader.course import REPO, CourseError
from submission_bank import banks, blank, filled

cluster = pytest.mark.cluster
# Kills the process that started its kernel (its worker): only possible without the sandbox (its own pid namespace).
WORKER_KILLER = "\nimport os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"


def write_class(root, killer=False):
    """Correct, untouched, two bank mistakes, a policy breach, an unreadable one (and a worker killer)."""
    write_submission(root, "correct", A, f"{A}.ipynb", filled(A))
    write_submission(root, "untouched", A, f"{A}.ipynb", blank(A))
    for (_, name), mistake in [item for item in sorted(banks().items()) if item[0][0] == A][:2]:
        write_submission(root, mistake_student(A, name), A, f"{A}.ipynb", filled(A, {mistake.cell: mistake.code}))
    broken = hostile_and_broken(root)
    for student in ("torch_in_numpy_part", "truncated_json"):
        assignment, name, content = broken[student]
        write_submission(root, student, assignment, name, content)
    if killer:
        nb = filled(A)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "rnn_step":
                cell.source += WORKER_KILLER
        write_submission(root, "worker_killer", A, f"{A}.ipynb", nb)
    return root


def grade(*args, check=True):
    done = subprocess.run([sys.executable, "-m", "grader", "autograde", *map(str, args), "--quiet"], cwd=REPO,
                          capture_output=True, text=True)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def csv_rows(workdir):
    with open(workdir / "grades.csv") as f:
        return list(csv.DictReader(f))


def status(workdir):
    return json.loads((workdir / "status.json").read_text())


@pytest.fixture(scope="module")
def class_root(tmp_path_factory):
    return write_class(tmp_path_factory.mktemp("class"))


@pytest.fixture(scope="module")
def reference(class_root, tmp_path_factory):
    """The class graded by the local default (two processes): (grades.csv text, workdir)."""
    workdir = tmp_path_factory.mktemp("local")
    grade(class_root, "--workdir", workdir, "--jobs", 2)
    return (workdir / "grades.csv").read_text(), workdir


class Cluster:
    """A Dask scheduler and two workers (``dask worker`` under a nanny, which restarts a killed worker)."""

    def __init__(self, folder):
        env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1",  # KilledWorker on the 2nd death
                   DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION="1.0")  # one task per worker at a time
        bin_dir = os.path.dirname(sys.executable)
        self.file = folder / "scheduler.json"
        self.processes = [subprocess.Popen([f"{bin_dir}/dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                            "--scheduler-file", str(self.file)], env=env, cwd=folder,
                                           stdout=subprocess.DEVNULL, stderr=open(folder / "scheduler.log", "w"))]
        deadline = time.monotonic() + 120
        while not self.file.exists():
            assert time.monotonic() < deadline, (folder / "scheduler.log").read_text()
            time.sleep(0.5)
        time.sleep(1)  # the file is written before the address is filled in on some versions
        self.address = json.loads(self.file.read_text())["address"]
        for name in ("w1", "w2"):
            self.processes.append(subprocess.Popen(
                [f"{bin_dir}/dask", "worker", "--scheduler-file", str(self.file), "--nthreads", "1",
                 "--no-dashboard", "--name", name], env=env, cwd=folder, stdout=subprocess.DEVNULL,
                stderr=open(folder / f"{name}.log", "w")))
        self.wait_for_workers(2)

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=60)

    def wait_for_workers(self, n):
        with self.client() as client:
            client.wait_for_workers(n, timeout=180)

    def worker_pids(self):
        with self.client() as client:
            return client.run(os.getpid)

    def close(self):
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    started = Cluster(tmp_path_factory.mktemp("dask"))
    yield started
    started.close()


@cluster
def test_a_dask_cluster_grades_the_class_as_the_local_default_does(class_root, reference, dask_cluster, tmp_path):
    grade(class_root, "--workdir", tmp_path, "--scheduler", dask_cluster.address, "--sandbox", "on")
    assert (tmp_path / "grades.csv").read_text() == reference[0]
    graded = {key: entry for key, entry in status(tmp_path).items() if "worker" in entry}
    assert len(graded) == len(csv_rows(tmp_path)) - 1  # all but the unreadable one went to a worker
    assert {entry["engine"] for entry in graded.values()} == {f"dask {dask_cluster.address}"}
    assert all(entry["sandboxed"] and entry["host"] for entry in graded.values())
    assert {entry["worker"] for entry in graded.values()} <= set(dask_cluster.worker_pids())
    # formgrader's view: the instructor's gradebook has every graded submission, once, with its scores
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        assert sorted(s.student.id for s in gb.assignment_submissions(A)) == sorted(k.split("/")[0] for k in graded)
        assert gb.find_submission(A, "correct").score == float(next(
            r["score"] for r in csv_rows(tmp_path) if r["student"] == "correct"))


def student_in_kernel(pid):
    """The student whose notebook the worker ``pid`` is running (its kernel's folder), or None."""
    import psutil

    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return None
    for child in children:
        try:
            if "limited_kernel" in " ".join(child.cmdline()) or child.name() == "bwrap":
                folder = child.cwd().split(os.sep)  # .../autograded/<student>/<assignment>
                if len(folder) > 2 and folder[-3] == "autograded":
                    return folder[-2]
        except psutil.Error:  # gone meanwhile
            pass
    return None


@cluster
def test_a_worker_killed_mid_notebook_is_replaced_and_no_row_is_lost_or_doubled(class_root, reference,
                                                                                 dask_cluster, tmp_path):
    before = dask_cluster.worker_pids()
    driver = subprocess.Popen([sys.executable, "-m", "grader", "autograde", str(class_root), "--workdir",
                               str(tmp_path), "--scheduler", dask_cluster.address, "--quiet"], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = None
    deadline = time.monotonic() + 1200  # the driver releases every assignment first: minutes on a loaded machine
    while killed is None and time.monotonic() < deadline and driver.poll() is None:
        for address, pid in before.items():
            student = student_in_kernel(pid)
            if student:
                os.kill(pid, signal.SIGKILL)
                killed = address, student
                break
        time.sleep(0.2)
    out, _ = driver.communicate(timeout=900)
    assert killed, "no worker was ever seen running a kernel"
    assert driver.returncode == 0, out
    assert (tmp_path / "grades.csv").read_text() == reference[0]  # every row once, the same as the local default
    rows = csv_rows(tmp_path)
    assert len({(r["student"], r["assignment"]) for r in rows}) == len(rows) == len(csv_rows(reference[1]))
    address, student = killed
    assert status(tmp_path)[f"{student}/{A}"]["worker"] != address  # graded again, elsewhere
    dask_cluster.wait_for_workers(2)  # the nanny has restarted it
    assert set(dask_cluster.worker_pids().values()) != set(before.values())


@cluster
def test_a_notebook_that_keeps_killing_its_workers_fails_with_the_reason(dask_cluster, tmp_path):
    root = tmp_path / "class"
    write_submission(root, "correct", A, f"{A}.ipynb", filled(A))
    write_class(tmp_path / "unused", killer=True)
    (root / "worker_killer").mkdir()
    os.rename(tmp_path / "unused" / "worker_killer" / A, root / "worker_killer" / A)
    grade(root, "--workdir", tmp_path / "wd", "--scheduler", dask_cluster.address, "--sandbox", "off")
    rows = {r["student"]: r for r in csv_rows(tmp_path / "wd")}
    assert (rows["worker_killer"]["status"], rows["worker_killer"]["score"]) == ("failed", "")
    assert "KilledWorker" in rows["worker_killer"]["reason"], rows["worker_killer"]
    assert rows["correct"]["status"] == "graded" and rows["correct"]["score"] == "11"
    dask_cluster.wait_for_workers(2)


@cluster
def test_resume_after_the_driver_is_killed_keeps_what_was_graded(class_root, reference, tmp_path):
    driver = subprocess.Popen([sys.executable, "-m", "grader", "autograde", str(class_root), "--workdir",
                               str(tmp_path), "--jobs", "1", "--quiet"], cwd=REPO, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 1200
    kept = {}
    while len(kept) < 2:  # two submissions graded by a worker and recorded: kill the driver, its pool and kernels
        assert time.monotonic() < deadline and driver.poll() is None
        time.sleep(0.2)
        if (tmp_path / "status.json").exists():
            kept = {k: e for k, e in status(tmp_path).items() if "worker" in e}
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    kept = {k: e for k, e in status(tmp_path).items() if "worker" in e}
    assert len(kept) < len(csv_rows(reference[1])) - 1  # the run was interrupted half-way
    grade(class_root, "--workdir", tmp_path, "--jobs", "2", "--resume")
    after = status(tmp_path)
    assert {k: after[k] for k in kept} == kept  # kept as they were: not graded again
    assert len({e["run"] for e in after.values()}) == 1  # one run, resumed
    assert (tmp_path / "grades.csv").read_text() == reference[0]


@cluster
def test_student_regrades_one_student_and_keeps_the_others(class_root, reference, tmp_path):
    import shutil

    shutil.copytree(reference[1], tmp_path / "wd")
    before = status(tmp_path / "wd")
    grade(class_root, "--workdir", tmp_path / "wd", "--student", "correct")
    after = status(tmp_path / "wd")
    changed = sorted(k for k in after if after[k] != before[k])
    assert changed == [f"correct/{A}"]
    assert (tmp_path / "wd" / "grades.csv").read_text() == reference[0]
    done = grade(class_root, "--workdir", tmp_path / "wd", "--student", "nobody", check=False)
    assert done.returncode == 2 and "--student nobody: no such student folder" in done.stderr


def test_with_sandbox_on_only_workers_that_can_run_bubblewrap_grade():
    """--sandbox on picks the workers where bwrap runs, and refuses (naming each worker) when there is none."""
    from grader.engine import sandbox_workers

    class Client:
        def __init__(self, probes):
            self.probes = probes

        def wait_for_workers(self, n, timeout):
            pass

        def run(self, function, mode):
            return self.probes

    mixed = {"tcp://a:1": {"host": "a", "reason": ""}, "tcp://b:1": {"host": "b", "reason": "no userns"}}
    assert sandbox_workers(Client(mixed), "on") == ["tcp://a:1"]
    assert sandbox_workers(Client(mixed), "auto") is None  # every worker grades, each as well as it can
    with pytest.raises(CourseError, match=r"no Dask worker can run bubblewrap: b \(tcp://b:1\): no userns"):
        sandbox_workers(Client({"tcp://b:1": mixed["tcp://b:1"]}), "on")


def test_a_worker_without_bubblewrap_refuses_to_grade_with_sandbox_on(monkeypatch):
    """The worker's own check: with --sandbox on it returns a refusal, which fails the submission with the reason."""
    from grader import grade_task, sandbox
    from grader.autograde import status_entry

    monkeypatch.setattr(sandbox, "unavailable_reason", lambda: "bwrap cannot create namespaces here (denied)")
    monkeypatch.setattr(grade_task, "_worker", None)
    settings = grade_task.settings(30, {"memory_mb": 4096, "cpu_seconds": 600}, "on", [])
    with mock.patch.dict(os.environ):  # the worker sets up its environment: leave this process's as it was
        outcome = grade_task.grade(settings, {"student": "s", "assignment": A, "notebook": "{}", "timestamp": None})
    assert outcome["autograded"] is None and not outcome["sandboxed"]
    entry = status_entry(None, outcome, 30, None)
    assert entry["status"] == "failed"
    assert entry["reason"].startswith("--sandbox on, but on ") and "bwrap cannot create namespaces here" in entry[
        "reason"]
    monkeypatch.setattr(grade_task, "_worker", None)


def test_cluster_batch_systems_need_their_configuration():
    from grader.clusters import make_cluster

    with pytest.raises(CourseError, match="--cluster slurm"):
        make_cluster("slurm", None)
