"""The grader on a real Dask cluster, faults, resuming, and the same rows from every engine.

The ``cluster`` tests start a Dask scheduler and two workers as separate processes on 127.0.0.1
(``dask scheduler``, ``dask worker``) and grade a class of chapter 4 submissions through the
command line; they are slow, so ``make test-cluster`` (``pytest -m cluster``) runs them. The rest
run by default, among them the local pool's faults (stand-in tasks in ``pool_tasks``, and a class whose
worker is killed in the middle of a notebook).
"""
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import nbformat
import pytest

from cluster_grading import stop
from conftest import A, hostile_and_broken, mistake_student, write_submission
from grader.course import REPO, CourseError
from points import points
from submission_bank import banks, blank, filled

cluster = pytest.mark.cluster
# Kills its worker: only possible without the sandbox (its own pid namespace). A kernel forked by the zygote has the
# zygote as its parent and JPY_PARENT_PID=1; killing the zygote only kills the kernel (a dead kernel, not a dead worker).
WORKER_KILLER = """
import os, signal
pid = os.getppid()  # the kernel's launcher, the zygote or the worker itself: walk up to the first that is not a kernel's
while pid > 1:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        cmdline = f.read()
    if not any(word in cmdline for word in (b"grader.zygote", b"limited_kernel", b"ipykernel", b"bwrap")):
        os.kill(pid, signal.SIGKILL)  # the worker
        break
    with open(f"/proc/{pid}/stat") as f:
        pid = int(f.read().rsplit(")", 1)[1].split()[1])
"""


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
    from grader.status import read_status

    return read_status(workdir)


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
        stop(self.processes)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    started = Cluster(tmp_path_factory.mktemp("dask"))
    yield started
    started.close()


@cluster
def test_a_dask_cluster_grades_the_class_as_the_local_default_does(class_root, reference, dask_cluster, tmp_path):
    grade(class_root, "--workdir", tmp_path, "--scheduler", dask_cluster.address, "--sandbox", "on")
    assert (tmp_path / "grades.csv").read_text() == reference[0]
    went = {key: entry for key, entry in status(tmp_path).items() if "worker" in entry}
    assert len(went) == len(csv_rows(tmp_path))  # every one went to a worker: workers check, the driver finds files
    graded = {key: entry for key, entry in went.items() if "sandboxed" in entry}
    assert set(went) - set(graded) == {f"truncated_json/{A}"}  # unreadable: the worker's check failed it
    assert {entry["engine"] for entry in went.values()} == {f"dask {dask_cluster.address}"}
    assert all(entry["sandboxed"] and entry["host"] for entry in graded.values())
    assert {entry["worker"] for entry in went.values()} <= set(dask_cluster.worker_pids())
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
        outcome = grade_task.grade(settings, {"student": "s", "assignment": A, "name": f"{A}.ipynb", "raw": b"{}",
                                              "repairs": [], "timestamp": None})
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


# ---- the local pool: a worker that dies, and the scratch folders dead workers leave -------------------------------

def run_pool(tasks, jobs=2, **kw):
    """{index: outcome} from grader.engine.local_pool on stand-in tasks, checking each index comes back once."""
    import pool_tasks
    from grader.engine import local_pool

    results = list(local_pool(tasks, {}, jobs, work=pool_tasks.work, warm=pool_tasks.ready, **kw))
    indices = [i for i, _ in results]
    assert sorted(indices) == list(range(len(tasks))), f"lost or doubled: {indices}"
    return dict(results)


def test_the_local_pool_grades_again_what_a_dying_worker_held(tmp_path):
    tasks = [{"value": v, "sleep": 0.3} for v in range(6)]
    tasks[2]["kill_once"] = str(tmp_path / "killed")  # its worker dies the first time: the pool breaks
    tasks[4]["raise"] = "the grader broke"
    outcomes = run_pool(tasks)
    assert (tmp_path / "killed").exists()
    assert outcomes[4]["grader_error"] and "the grader broke" in outcomes[4]["error"]
    assert {i: o["value"] for i, o in outcomes.items() if i != 4} == {i: i for i in range(6) if i != 4}


def test_a_task_that_kills_every_local_worker_fails_as_killed_and_the_others_are_graded(tmp_path):
    from grader.autograde import failure_reason
    from grader.engine import ALLOWED_FAILURES

    tasks = [{"value": v, "sleep": 0.5} for v in range(5)]
    tasks[0].update(started=str(tmp_path / "started"), sleep=3)  # still running when task 1 kills its worker
    tasks[1].update(kill=True, after=str(tmp_path / "started"))
    outcomes = run_pool(tasks)
    killed = outcomes.pop(1)
    assert killed["killed"] and killed["deaths"] == ALLOWED_FAILURES + 1 and not killed["success"]
    assert "BrokenProcessPool" in killed["error"]
    reason = failure_reason(killed, 30)
    assert f"the local pool's worker process died each of the {ALLOWED_FAILURES + 1} times" in reason, reason
    assert {i: o.get("value") for i, o in outcomes.items()} == {0: 0, 2: 2, 3: 3, 4: 4}  # none charged for it
    assert run_pool(tasks[1:2], allowed_failures=0)[0]["deaths"] == 1  # the limit is the caller's


def test_closing_the_local_pool_does_not_wait_for_the_tasks_still_running():
    """What Ctrl-C in the driver does: the generator is closed while notebooks run."""
    import pool_tasks
    from grader.engine import local_pool

    tasks = [{"value": 0}, {"value": 1, "sleep": 8}, {"value": 2, "sleep": 8}]
    results = local_pool(tasks, {}, 2, work=pool_tasks.work, warm=pool_tasks.ready)
    assert next(results)[0] == 0
    start = time.monotonic()
    results.close()
    assert time.monotonic() - start < 4


def test_a_starting_worker_removes_only_the_scratch_folders_of_dead_workers(tmp_path, monkeypatch):
    import psutil

    from grader.grade_task import remove_stale_scratch

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(ended.stdout)
    stale = tmp_path / f"rnnw-{dead}-abc"
    (stale / "course").mkdir(parents=True)
    live = tmp_path / f"rnnw-{os.getpid()}-abc"  # this process runs: its folder is in use
    live.mkdir()
    reused = tmp_path / f"rnnw-{os.getpid()}-old"  # last changed before this process started: another's, long dead
    reused.mkdir()
    before = psutil.Process().create_time() - 60
    os.utime(reused, (before, before))
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / f"rnnw-{dead}-link"
    link.symlink_to(target)
    unnamed = tmp_path / "rnnw-abcdefgh"  # the old name, without a pid: whose it is cannot be told
    unnamed.mkdir()
    monkeypatch.setattr(os, "getuid", lambda: os.stat(tmp_path).st_uid + 1)  # as another user: nothing is ours
    remove_stale_scratch(tmp_path)
    assert stale.exists() and reused.exists()
    monkeypatch.undo()
    remove_stale_scratch(tmp_path)
    assert not stale.exists() and not reused.exists()
    assert live.exists() and link.is_symlink() and target.exists() and unnamed.exists()


def spawn_workers(pid):
    """The local pool's worker processes under the driver ``pid``."""
    import psutil

    try:
        children = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child.pid)
        except psutil.Error:
            pass
    return found


def test_a_local_worker_killed_mid_notebook_costs_no_row_and_leaves_no_scratch_folder(tmp_path):
    root = tmp_path / "class"
    write_submission(root, "correct", A, f"{A}.ipynb", filled(A))
    write_submission(root, "untouched", A, f"{A}.ipynb", blank(A))
    (_, name), mistake = next(item for item in sorted(banks().items()) if item[0][0] == A)
    write_submission(root, mistake_student(A, name), A, f"{A}.ipynb", filled(A, {mistake.cell: mistake.code}))
    nb = filled(A)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "rnn_step":
            cell.source += "\nimport time\ntime.sleep(6)\n"  # long enough to be killed in the middle of it
    write_submission(root, "sleeper", A, f"{A}.ipynb", nb)
    grade(root, "--workdir", tmp_path / "one", "--jobs", 1)
    log = open(tmp_path / "driver.log", "w")  # a file, not a pipe: a process left behind cannot hold the test
    driver = subprocess.Popen([sys.executable, "-m", "grader", "autograde", str(root), "--workdir",
                               str(tmp_path / "two"), "--jobs", "2", "--quiet"], cwd=REPO, stdout=log, stderr=log)
    killed = None
    deadline = time.monotonic() + 1200
    while killed is None and time.monotonic() < deadline and driver.poll() is None:
        for pid in spawn_workers(driver.pid):
            if student_in_kernel(pid) == "sleeper":
                os.kill(pid, signal.SIGKILL)
                killed = pid
                break
        time.sleep(0.2)
    driver.wait(timeout=900)
    assert killed, "no worker was ever seen grading the sleeper"
    assert driver.returncode == 0, (tmp_path / "driver.log").read_text()
    assert (tmp_path / "two" / "grades.csv").read_text() == (tmp_path / "one" / "grades.csv").read_text()
    rows = csv_rows(tmp_path / "two")
    assert len({(r["student"], r["assignment"]) for r in rows}) == len(rows) == 4
    assert status(tmp_path / "two")[f"sleeper/{A}"]["worker"] != f"local pid {killed}"  # graded again, elsewhere
    assert not list(Path(tempfile.gettempdir()).glob(f"rnnw-{killed}-*"))  # removed by the next worker
    time.sleep(2)
    assert not left_behind(str(tmp_path)), "processes of the run outlived it"


def test_the_driver_only_finds_files_and_the_workers_check_them(tmp_path, monkeypatch):
    """The check and repair run on the worker (a check in the driver raises here); what it finds comes back whole:
    the driver's note of a renamed file, and a notebook it cannot read (failed, the reason, the error in the log)."""
    from grader import submissions
    from grader.autograde import autograde

    def no_check_here(sub, raw):
        raise AssertionError("the driver checked a notebook")

    monkeypatch.setattr(submissions, "check", no_check_here)
    root = tmp_path / "class"
    write_submission(root, "renamed", A, "my_homework.ipynb", filled(A))
    write_submission(root, "truncated", A, f"{A}.ipynb", nbformat.writes(filled(A))[:700])
    rows, errors = autograde(root, tmp_path / "wd", jobs=1, progress=False)
    rows = {r["student"]: r for r in rows}
    assert errors == 0
    assert rows["renamed"]["status"] == "flagged" and "notebook renamed" in rows["renamed"]["reason"], rows
    assert rows["renamed"]["score"] == str(points(A)[1])
    assert rows["truncated"]["status"] == "failed" and rows["truncated"]["score"] == "", rows
    assert rows["truncated"]["reason"].startswith("not a readable notebook") and "complete JSON" in rows[
        "truncated"]["reason"]
    entry = status(tmp_path / "wd")[f"truncated/{A}"]
    assert "Traceback" in Path(entry["log"]).read_text() and entry["worker"].startswith("local pid")
    graded = tmp_path / "wd" / "submitted" / "renamed" / A / f"{A}.ipynb"
    assert "notebook renamed" in graded.read_text()  # the graded notebook, as the worker staged it


def left_behind(mark):
    """Processes whose command line names ``mark`` (a sandboxed kernel's or zygote's names the folders it hides)."""
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            if mark in " ".join(process.cmdline()):
                found.append((process.pid, " ".join(process.cmdline())[:200]))
        except psutil.Error:
            pass
    return found


def test_a_kernel_launcher_whose_worker_is_gone_starts_no_kernel(tmp_path):
    """A worker killed while its kernel starts: the launcher, already an orphan, must not start a kernel for no one."""
    env = {k: v for k, v in os.environ.items() if k != "RNN_GRADER_ZYGOTE"}
    env["JPY_PARENT_PID"] = str(os.getppid())  # not the launcher's parent (this process): as if its worker had died
    done = subprocess.run([sys.executable, "-m", "grader.limited_kernel", "--memory-mb", "2048", "--cpu-seconds", "20",
                           "--file-mb", "16", "-f", str(tmp_path / "kernel.json")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and f"(pid {env['JPY_PARENT_PID']}) is gone" in done.stderr, done.stderr
    assert not (tmp_path / "kernel.json").exists()  # no kernel wrote its connection file
