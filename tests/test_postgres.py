"""The gradebook on a real PostgreSQL 15 server (``--db URL``), started by the test in a throw-away folder.

The cluster listens only on a Unix socket in a folder outside /tmp (so that the sandbox's hiding of
the socket folder is what keeps kernels out, not its hiding of /tmp). A handful of chapter 4
submissions graded with ``--db`` give the same grades.csv as with SQLite; two graders writing manual
scores through two connections at once keep both; ``export`` without ``--db`` finds the server
database through the working folder; a grading kernel can neither reach the server nor read its URL.
"""
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import A, write_submission
from grader import gradebook_db
from grader.course import REPO, nbgrader_config
from grader.limited_kernel import SECRET_ENV
from submission_bank import banks, blank, filled, solution_sources

PG_BIN = Path("/usr/lib/postgresql/15/bin")  # Debian's postgresql-15 (make postgres installs it)
WRITTEN = "written_parameter_sharing"  # chapter 4's written answer, graded by hand
SNOOP = "SNOOP"  # marks the snooping submission's printed lines


def _as_server_user():
    """initdb refuses root: as root, run the server as Debian's ``postgres`` user; otherwise as oneself."""
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root, and there is no 'postgres' user to run the test's PostgreSQL server as "
                    "(Debian's postgresql package creates it: make postgres)")
    return {"user": "postgres", "group": "postgres"}


def _run(cmd, **kwargs):
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if done.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def server():
    """A fresh PostgreSQL 15 cluster on a Unix socket, with an empty database ``gradebook``; its URL."""
    for program in ("initdb", "pg_ctl"):
        if not (PG_BIN / program).exists():
            pytest.fail(f"{PG_BIN / program} is missing: install PostgreSQL 15 (make postgres)")
    who = _as_server_user()
    base = Path(tempfile.mkdtemp(prefix="rnn-pg-", dir="/var/tmp"))
    base.chmod(0o755)  # the socket folder must be reachable by the grader (and, without the sandbox, by kernels)
    data, sockets, log = base / "data", base / "sockets", base / "server.log"
    sockets.mkdir()
    sockets.chmod(0o755)
    if who:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
    started = False
    try:
        _run([PG_BIN / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C",
              "--no-sync"], **who)
        _run([PG_BIN / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o",
              f"-k {sockets} -c listen_addresses='' -c fsync=off", "start"], **who)
        started = True
        import psycopg2

        admin = psycopg2.connect(dbname="postgres", user="postgres", host=str(sockets))
        admin.autocommit = True
        admin.cursor().execute("CREATE DATABASE gradebook")
        admin.close()
    except (RuntimeError, OSError) as err:
        server_log = log.read_text() if log.exists() else "(no server log)"
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"the test's PostgreSQL server could not start: {err}\nserver log:\n{server_log}")
    url = f"postgresql+psycopg2://postgres@/gradebook?host={sockets}"
    try:
        yield {"url": url, "sockets": sockets, "socket_file": next(sockets.glob(".s.PGSQL.*"))}
    finally:
        if started:
            subprocess.run([PG_BIN / "pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True, **who)
        shutil.rmtree(base, ignore_errors=True)


def snooping_code(socket_file):
    """Answer-cell lines that try to reach the gradebook server's socket and print the secret variables seen."""
    return f"""
import os as _os, socket as _socket
try:
    _socket.socket(_socket.AF_UNIX).connect({str(socket_file)!r})
    print("{SNOOP} server reachable")
except OSError as _err:
    print("{SNOOP} server unreachable", type(_err).__name__)
print("{SNOOP} variables", sorted(k for k in _os.environ if k in {SECRET_ENV!r}))
"""


@pytest.fixture(scope="module")
def submissions(server, tmp_path_factory):
    """Six chapter 4 submissions: correct, untouched, three of the bank's mistakes, and one that snoops."""
    root = tmp_path_factory.mktemp("pg-submissions")
    notebook = f"{A}.ipynb"
    write_submission(root, "correct", A, notebook, filled(A))
    write_submission(root, "untouched", A, notebook, blank(A))
    for name in sorted(n for a, n in banks() if a == A)[:3]:
        mistake = banks()[(A, name)]
        write_submission(root, f"mistake_{name}", A, notebook, filled(A, {mistake.cell: mistake.code}))
    snoop = solution_sources(A)["rnn_step"] + "\n" + snooping_code(server["socket_file"])
    write_submission(root, "snoop", A, notebook, filled(A, {"rnn_step": snoop}))
    return root


def grader_cli(*args, env=None):
    """``python -m grader ARGS`` in a fresh process, as an instructor runs it; its completed process."""
    done = subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=900)
    assert done.returncode == 0, f"grader {args[0]} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def graded(server, submissions, tmp_path_factory):
    """The same submissions autograded twice with two workers: SQLite (the default) and --db on the server."""
    sqlite_dir, pg_dir = tmp_path_factory.mktemp("sqlite-workdir"), tmp_path_factory.mktemp("pg-workdir")
    grader_cli("autograde", submissions, "--workdir", sqlite_dir, "--jobs", 2, "--quiet")
    # a password in the environment, as an instructor might keep it: no kernel may see it
    grader_cli("autograde", submissions, "--workdir", pg_dir, "--jobs", 2, "--quiet", "--db", server["url"],
               env={"PGPASSWORD": "not-needed-with-trust"})
    return sqlite_dir, pg_dir


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_postgres_gradebook_gives_the_sqlite_grades(graded, server):
    sqlite_dir, pg_dir = graded
    sqlite_rows, pg_rows = read_csv(sqlite_dir / "grades.csv"), read_csv(pg_dir / "grades.csv")
    assert len(pg_rows) == 6 and {r["student"] for r in pg_rows} >= {"correct", "untouched", "snoop"}
    assert pg_rows == sqlite_rows
    assert not (pg_dir / "gradebook.db").exists()  # nothing went to a SQLite file
    assert (pg_dir / gradebook_db.URL_FILE).read_text().strip() == server["url"]
    import psycopg2

    with psycopg2.connect(dbname="gradebook", user="postgres", host=str(server["sockets"])) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT count(*) FROM submitted_assignment")
        assert cursor.fetchone()[0] == 6  # the rows are in the server's database


def snoop_lines(workdir):
    import nbformat

    nb = nbformat.read(workdir / "autograded" / "snoop" / A / f"{A}.ipynb", as_version=4)
    return [line for cell in nb.cells for out in cell.get("outputs", []) for line in out.get("text", "").splitlines()
            if line.startswith(SNOOP)]


def test_grading_kernels_cannot_reach_the_server_or_see_its_url(graded):
    sqlite_dir, pg_dir = graded
    from grader import sandbox

    assert not sandbox.unavailable_reason(), "this test needs the bubblewrap sandbox"
    assert snoop_lines(pg_dir) == [f"{SNOOP} server unreachable FileNotFoundError", f"{SNOOP} variables []"]
    # the probe works: with the SQLite gradebook, the server's socket folder is not hidden, and it is reached
    assert snoop_lines(sqlite_dir)[0] == f"{SNOOP} server reachable"


def test_two_graders_at_once_keep_both_scores_and_export_reads_them(graded, server):
    """Two manual graders, each on their own connection, with uncommitted scores at the same moment."""
    from nbgrader.api import Gradebook

    _, pg_dir = graded
    url = nbgrader_config(pg_dir).CourseDirectory.db_url  # found through the working folder, no --db
    assert url == server["url"]
    both_written, errors = threading.Barrier(2, timeout=60), []

    def grade(student, score):
        try:
            with Gradebook(url) as gb:
                grade = gb.find_grade(WRITTEN, A, A, student)
                grade.manual_score, grade.needs_manual_grade = score, False  # as formgrader's score box does
                gb.db.flush()  # the UPDATE is sent; the transaction stays open
                both_written.wait()  # both graders now hold an uncommitted score
                gb.db.commit()
        except Exception as err:  # reported below: a thread's exception would otherwise be lost
            errors.append(f"{student}: {err!r}")
            both_written.abort()

    other = "mistake_" + sorted(n for a, n in banks() if a == A)[0]
    graders = [threading.Thread(target=grade, args=("correct", 1.5)), threading.Thread(target=grade, args=(other, 2.0))]
    start = time.perf_counter()
    for t in graders:
        t.start()
    for t in graders:
        t.join()
    assert not errors, errors
    assert time.perf_counter() - start < 30
    grader_cli("export", "--workdir", pg_dir)  # no --db: the working folder's URL
    rows = {r["student"]: r for r in read_csv(pg_dir / "grades.csv")}
    assert f"{WRITTEN}=1.5/2" in rows["correct"]["parts"]
    assert f"{WRITTEN}=2/2" in rows[other]["parts"]
    assert float(rows["correct"]["manual_pending"]) == 0


def test_db_is_remembered_for_its_working_folder_only(tmp_path):
    workdir, scratch = tmp_path / "workdir", tmp_path / "scratch"  # e.g. a worker's scratch course
    assert gradebook_db.gradebook_url(workdir) == f"sqlite:///{workdir.resolve() / 'gradebook.db'}"
    url = "postgresql+psycopg2://grader@/course?host=/var/run/postgresql"
    gradebook_db.choose(workdir, url, record=True)
    assert (workdir / gradebook_db.URL_FILE).read_text().strip() == url
    assert gradebook_db.gradebook_url(workdir) == url
    assert gradebook_db.gradebook_url(scratch) == f"sqlite:///{scratch.resolve() / 'gradebook.db'}"
    gradebook_db.choose(scratch, f"sqlite:///{tmp_path / 'other.db'}")  # --db on export: that run only
    assert not (scratch / gradebook_db.URL_FILE).exists()
    assert "PGPASSWORD" in SECRET_ENV


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    unreachable = "postgresql+psycopg2://grader@/course?host=/nonexistent-socket-folder"
    refused = subprocess.run([sys.executable, "-m", "grader", "export", "--workdir", tmp_path, "--db", unreachable],
                             cwd=REPO, capture_output=True, text=True)
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"error: cannot use the gradebook database {unreachable}: "), refused.stderr
    assert "/nonexistent-socket-folder/.s.PGSQL.5432" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.parametrize("url,says", [("not a url", "is not a database URL"),
                                      ("nosuchdialect://x/y", "is not a database URL"),
                                      ("postgresql+psycopg2://grader:s3cret-pw@/course", "holds a password")])
def test_a_bad_db_url_is_refused_with_the_reason(tmp_path, url, says):
    done = subprocess.run([sys.executable, "-m", "grader", "autograde", tmp_path, "--workdir", tmp_path / "w",
                           "--db", url], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "s3cret-pw" not in done.stderr and not (tmp_path / "w").exists()  # refused before anything is written


def test_formgrader_grades_on_the_postgres_gradebook(graded, server):
    """nbgrader's formgrader, pointed at the server as README says, lists the class and saves a manual score."""
    import json
    import socket
    import urllib.request

    _, pg_dir = graded
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token, base = "pg-test-token", f"http://127.0.0.1:{port}/formgrader/api"
    db_url = (pg_dir / gradebook_db.URL_FILE).read_text().strip()
    server_process = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "server", "--no-browser", "--allow-root", f"--port={port}",
         "--ip=127.0.0.1", f"--ServerApp.root_dir={pg_dir}", f"--IdentityProvider.token={token}",
         "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True}",
         f"--CourseDirectory.root={pg_dir}", f"--CourseDirectory.db_url={db_url}"],
        cwd=pg_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def call(path, data=None):
        request = urllib.request.Request(f"{base}/{path}", method="PUT" if data else "GET",
                                         data=json.dumps(data).encode() if data else None,
                                         headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=30) as r:
            return json.load(r)

    try:
        for _ in range(120):
            try:
                notebooks = call(f"submitted_notebooks/{A}/{A}")
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the Jupyter server with the formgrader did not answer within 60 s")
        assert sorted(n["student"] for n in notebooks) == sorted(r["student"] for r in
                                                                 read_csv(pg_dir / "grades.csv"))
        snoop = next(n for n in notebooks if n["student"] == "snoop")
        written = next(g for g in call(f"grades?submission_id={snoop['id']}") if g["name"] == WRITTEN)
        assert written["needs_manual_grade"]
        saved = call(f"grade/{written['id']}", {"manual_score": 0.5, "extra_credit": None})
        assert saved["manual_score"] == 0.5
    finally:
        server_process.terminate()
        server_process.wait(timeout=30)
    grader_cli("export", "--workdir", pg_dir)
    rows = {r["student"]: r for r in read_csv(pg_dir / "grades.csv")}
    assert f"{WRITTEN}=0.5/2" in rows["snoop"]["parts"]
