"""Written answers are graded by hand in nbgrader's formgrader, on the gradebook our autograde wrote.

A real Jupyter server with the formgrader extension, driven in Chromium: a score typed into the
written answer's box reaches the gradebook, and ``python -m grader export`` then shows it.
"""
import csv
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from chromium import chromium

from grader.course import REPO

A = "ch04_recurrent_networks"
WRITTEN = "written_parameter_sharing"
TOKEN = "course-test-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


@pytest.fixture
def formgrader(graded, tmp_path):
    """A copy of the graded working folder, served by `jupyter server` with the formgrader on."""
    _, workdir = graded
    course = tmp_path / "course"
    shutil.copytree(workdir, course, ignore=shutil.ignore_patterns("jupyter"))
    port = free_port()
    jupyter = Path(sys.executable).parent / "jupyter"
    server = subprocess.Popen(
        [str(jupyter), "server", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.root_dir={course}", f"--IdentityProvider.token={TOKEN}",
         "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True}",
         f"--CourseDirectory.root={course}"],
        cwd=course, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                get_json(f"{base}/formgrader/api/submissions/{A}?token={TOKEN}")
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the Jupyter server with the formgrader did not answer within 60 s")
        yield base, course
    finally:
        server.terminate()
        server.wait(timeout=30)


def export_rows(course):
    done = subprocess.run([sys.executable, "-m", "grader", "export", "--workdir", str(course)], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with open(course / "grades.csv") as f:
        return {(r["student"], r["assignment"]): r for r in csv.DictReader(f)}


def test_a_written_answer_graded_in_formgrader_reaches_the_export(formgrader):
    base, course = formgrader
    before = export_rows(course)[("correct", A)]
    assert float(before["manual_pending"]) == 2 and f"{WRITTEN}=?/2" in before["parts"]
    notebooks = get_json(f"{base}/formgrader/api/submitted_notebooks/{A}/{A}?token={TOKEN}")
    submission = next(n for n in notebooks if n["student"] == "correct")
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{base}/login?next=/formgrader/submissions/{submission['id']}/")
        page.fill("#password_input", TOKEN)  # the instructor logs in with the server's token
        page.click("#login_submit")
        box = page.locator(f"input.score#{WRITTEN}")
        box.wait_for(timeout=90000)
        page.wait_for_load_state("networkidle", timeout=90000)  # the grade views are bound once /api/grades answered
        with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT",
                                  timeout=90000):
            box.fill("1.5")
            box.press("Tab")  # the formgrader saves a score when its box loses focus
    after = export_rows(course)[("correct", A)]
    assert f"{WRITTEN}=1.5/2" in after["parts"]
    assert float(after["manual_pending"]) == 0
    assert float(after["score"]) == float(before["score"]) + 1.5
