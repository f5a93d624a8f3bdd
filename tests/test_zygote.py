"""Kernels forked from the worker's zygote: each one fresh, private and without privileges.

Two submissions graded one after the other by one worker: the first writes a marker into every
folder a kernel may write (HOME, /tmp, /dev/shm, its own folder, the hidden course and grading
folders); the second, forked from the same zygote, must find none of them. Each reports that it
was forked (its connection file is the private copy), holds no capabilities, cannot read the
zygote's memory or environment, and sees no other socket folder than its own.
"""
import json

from conftest import A, write_submission
from points import points
from submission_bank import filled

PROBE = r'''
import json as _json, os as _os, sys as _sys
_here = _os.getcwd()
_places = [_os.path.expanduser("~"), "/tmp", "/dev/shm", _here, _os.path.normpath(_os.path.join(_here, "../../..")),
           {repo!r}]
_found = {{_p: _os.path.exists(_os.path.join(_p, "zygote-marker")) for _p in _places}}
_written = []
for _p in _places:
    try:
        open(_os.path.join(_p, "zygote-marker"), "w").write("planted")
        _written.append(_p)
    except OSError:
        pass
def _error(_read):
    try:
        _read()
        return "read"
    except OSError as _err:
        return type(_err).__name__
_ppid = _os.getppid()
_ip = _json.load(open(_sys.argv[-1]))["ip"]
_status = dict(_line.split(":", 1) for _line in open("/proc/self/status").read().splitlines() if ":" in _line)
print("ZYGOTE " + _json.dumps({{
    "forked": _sys.argv[-1] == "/tmp/kernel.json", "found": _found, "written": _written,
    "capabilities": [int(_status[_k].strip(), 16) for _k in ("CapEff", "CapPrm", "CapBnd")],
    "parent environ": _error(lambda: open(f"/proc/{{_ppid}}/environ", "rb").read()),
    "parent root": _error(lambda: _os.listdir(f"/proc/{{_ppid}}/root")),
    "socket folders": _os.listdir(_os.path.dirname(_os.path.dirname(_ip))),
    "own socket folder": _os.path.basename(_os.path.dirname(_ip))}}))
'''


def _with_probe(repo):
    nb = filled(A)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "rnn_step":
            cell.source += PROBE.format(repo=str(repo))
    return nb


def _reported(workdir, student):
    import nbformat

    nb = nbformat.read(workdir / "autograded" / student / A / f"{A}.ipynb", as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith("ZYGOTE "):
                    return json.loads(line[len("ZYGOTE "):])
    raise AssertionError(f"{student} printed no ZYGOTE line")


def test_forked_kernels_share_nothing_and_hold_no_privileges(tmp_path):
    from grader.autograde import autograde
    from grader.course import REPO

    root = tmp_path / "class"
    for student in ("first", "second"):
        write_submission(root, student, A, f"{A}.ipynb", _with_probe(REPO))
    workdir = tmp_path / "wd"
    rows, errors = autograde(root, workdir, jobs=1, timeout=60, progress=False, sandbox_mode="on")
    assert errors == 0
    first, second = _reported(workdir, "first"), _reported(workdir, "second")
    assert first["forked"] and second["forked"]
    assert len(first["written"]) == 6, first["written"]  # every place was writable to the first kernel ...
    assert not any(second["found"].values()), second["found"]  # ... and the second found none of its markers
    assert not (REPO / "zygote-marker").exists() and not (workdir / "zygote-marker").exists()
    for seen in (first, second):
        assert seen["capabilities"] == [0, 0, 0]
        assert seen["parent environ"] == "PermissionError" and seen["parent root"] == "PermissionError"
        assert seen["socket folders"] == [seen["own socket folder"]]
    assert {row["student"]: float(row["score"]) for row in rows} == {"first": points(A)[1], "second": points(A)[1]}
    status = json.loads((workdir / "status.json").read_text())
    assert [status[f"{s}/{A}"]["sandboxed"] for s in ("first", "second")] == [True, True]


def test_the_zygote_refuses_a_kernel_it_cannot_sandbox_as_asked(tmp_path):
    from grader.zygote import refusal

    spec = {"sandboxed": True, "hide": ["/course", "/tmp"], "folder": str(tmp_path / "k")}
    request = {"sandboxed": True, "hide": ["/course", "/tmp"], "cwd": "/course/wd/autograded/s/a",
               "connection": {"transport": "ipc", "ip": str(tmp_path / "k" / "rnnk-1" / "kernel")}}
    assert refusal(spec, request) == ""
    assert "hiding ['/course']" in refusal(spec, dict(request, hide=["/course"]))
    assert "sandboxed=False" in refusal(spec, dict(request, sandboxed=False))
    assert "not in the zygote's folder" in refusal(spec, dict(request, connection={"transport": "ipc",
                                                                                  "ip": "/elsewhere/rnnk-1/kernel"}))
    assert "Unix sockets" in refusal(spec, dict(request, connection={"transport": "tcp", "ip": "127.0.0.1"}))
    assert "not in a hidden folder" in refusal(spec, dict(request, cwd="/srv/notebook"))
