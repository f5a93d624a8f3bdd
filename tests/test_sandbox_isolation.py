"""One submission cannot reach the kernels of the next ones graded by the same worker.

A saboteur rewrites every file its kernel can write (a sandbox configuration among them) and
plants IPython startup files; graded first in a single worker, it is followed by a snooper and
an honest submission. The snooper must still see nothing, and the honest one keep full marks.
"""
import json

from conftest import A, SABOTEUR, snoop_code, snoop_targets, write_submission
from points import points
from submission_bank import filled

# Appended to the snooper's correct cell: did anything planted by an earlier kernel run here?
PLANT_CHECK = '''
import numpy as _numpy
print("PLANTED " + _json.dumps({"planted": "PLANTED" in globals(), "tanh(1)": float(_numpy.tanh(1.0))}))
'''


def _with_extra(grade_id, extra):
    nb = filled(A)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source += extra
    return nb


def _printed(workdir, student, prefix):
    import nbformat

    nb = nbformat.read(workdir / "autograded" / student / A / f"{A}.ipynb", as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith(prefix + " "):
                    return json.loads(line[len(prefix) + 1:])
    raise AssertionError(f"{student} printed no {prefix} line")


def test_a_saboteur_cannot_reach_the_next_kernels_of_its_worker(tmp_path):
    from grader.autograde import autograde
    from grader.course import REPO

    root = tmp_path / "class"
    # sorted order: one worker grades the saboteur first, then the snooper, then the honest submission
    write_submission(root, "a_saboteur", A, f"{A}.ipynb", _with_extra("rnn_step", SABOTEUR))
    write_submission(root, "b_snoop", A, f"{A}.ipynb",
                     _with_extra("rnn_step", snoop_code(snoop_targets(root)) + PLANT_CHECK))
    write_submission(root, "c_honest", A, f"{A}.ipynb", filled(A))
    workdir = tmp_path / "wd"
    rows, errors = autograde(root, workdir, jobs=1, timeout=60, progress=False, sandbox_mode="on")
    rows = {row["student"]: row for row in rows}
    assert errors == 0
    seen = _printed(workdir, "b_snoop", "SNOOP")
    for key in ("source notebook", "reference", "hidden tests", "gradebook"):
        assert seen[key] == "FileNotFoundError", (key, seen[key])
    assert seen["submissions"] == [] and seen["other students (autograded)"] == ["b_snoop"]
    assert seen["uid"] == 65534 and seen["interfaces"] == ["lo"]
    assert _printed(workdir, "b_snoop", "PLANTED") == {"planted": False, "tanh(1)": float(__import__("numpy").tanh(1.0))}
    assert not (REPO / "snooped.txt").exists() and not (workdir / "snooped.txt").exists()
    honest = rows["c_honest"]
    assert (honest["status"], honest["reason"], float(honest["score"])) == ("graded", "", points(A)[1]), honest
    status = json.loads((workdir / "status.json").read_text())
    assert [status[f"{s}/{A}"]["sandboxed"] for s in ("a_saboteur", "b_snoop", "c_honest")] == [True] * 3


def test_kernels_share_no_writable_folder_and_read_no_writable_settings(tmp_path):
    """The bwrap command: writable binds are the kernel's own socket folder and cwd only; HOME is a fresh tmpfs."""
    from grader import sandbox
    from grader.limited_kernel import kernelspec, parser

    cmd = sandbox.command(["python"], hide=["/work/course", "/tmp"], writable=["/tmp/rnnk-1"], cwd="/x/autograded/s/a",
                          connection_file="/root/kernel-1.json")
    binds = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--bind"]
    assert binds == ["/tmp/rnnk-1", "/x/autograded/s/a"]
    assert cmd[cmd.index("--setenv", cmd.index("HOME") - 1) + 2] == sandbox.HOME
    assert ["--tmpfs", sandbox.HOME] == cmd[cmd.index(sandbox.HOME) - 1: cmd.index(sandbox.HOME) + 1]
    # the folders to hide reach the launcher on its command line, from the kernelspec (in the hidden grading folder)
    spec = kernelspec(100, 10, 5, hide=["/work/course", "/tmp"])
    args = parser().parse_args([a.replace("{connection_file}", "c.json") for a in spec["argv"][3:]])
    assert args.sandbox and args.hide == ["/work/course", "/tmp"]
    assert "--sandbox" not in kernelspec(100, 10, 5)["argv"]


def test_sandboxed_is_what_the_launchers_enforced():
    from grader.grade_task import enforced

    hide = ["/course", "/tmp"]
    assert enforced([{"sandboxed": True, "hide": hide}] * 2, hide)
    assert not enforced([], hide)  # no kernel started: nothing was enforced
    assert not enforced([{"sandboxed": True, "hide": hide}, {"sandboxed": False, "hide": []}], hide)
    assert not enforced([{"sandboxed": True, "hide": []}], hide)  # started in bwrap, but hiding nothing
    assert not enforced([{"sandboxed": False, "hide": []}], None)


def test_the_launcher_takes_its_socket_folder_from_the_connection_file(tmp_path):
    import pytest

    from grader.limited_kernel import socket_folder

    folder = tmp_path / "rnnk-1"
    folder.mkdir()
    (tmp_path / "c.json").write_text(json.dumps({"transport": "ipc", "ip": str(folder / "kernel")}))
    assert socket_folder(tmp_path / "c.json") == str(folder)
    (tmp_path / "c.json").write_text(json.dumps({"transport": "tcp", "ip": "127.0.0.1"}))
    with pytest.raises(SystemExit, match="Unix sockets"):
        socket_folder(tmp_path / "c.json")
