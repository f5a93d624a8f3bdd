"""Shared fixtures: one graded class of submissions per test run.

Every assignment gets a correct, an untouched and a spying submission (``tests/spy_bank.py``)
and one per entry of its bank of mistakes (student ``<assignment>__<mistake>``); chapter 4
also gets the hostile and broken ones. Rows are keyed by (student, assignment).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from grader.course import assignments  # noqa: E402
from spy_bank import spying  # noqa: E402
from submission_bank import banks, blank, filled  # noqa: E402

A = "ch04_recurrent_networks"  # the assignment the hostile and broken submissions target
TIMEOUT = 30  # seconds per cell (the default): on a busy 2-core machine chapter 2's demo cell and chapter 3's train
# through the grader's stand-ins (400 round trips) take over 10 s; the hanging submissions cost this much each


TORCH_FORWARD = """def rnn_forward(X, h0, W_xh, W_hh, b_h):
    rnn = torch.nn.RNN(W_xh.shape[1], W_xh.shape[0], batch_first=True).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(W_xh))
        rnn.weight_hh_l0.copy_(torch.from_numpy(W_hh))
        rnn.bias_ih_l0.copy_(torch.from_numpy(b_h))
        rnn.bias_hh_l0.zero_()
        h = None if h0 is None else torch.from_numpy(h0)[None]
        return rnn(torch.from_numpy(X), h)[0].numpy()
"""


THROUGH_THE_HELPER = "def rnn_forward(X, h0, W_xh, W_hh, b_h):\n    return torch_rnn_states(X, h0, W_xh, W_hh, b_h)\n"
# the same, out of the static check's sight: only running the part with torch switched off stops it
THROUGH_THE_HIDDEN_HELPER = """def rnn_forward(X, h0, W_xh, W_hh, b_h):
    return globals()["torch_" + "rnn_states"](X, h0, W_xh, W_hh, b_h)
"""

MEMORY_HOG = """def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):
    scratch = np.ones(2**30)
    return np.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b_h + 0 * scratch[0])
"""


# Cheats written so that the static check cannot see them: only the sandbox and the verdict
# in the grader's own process stand between them and full marks.
RUNTIME_REFERENCE_IMPORT = """import importlib
def rnn_forward(X, h0, W_xh, W_hh, b_h):
    stolen = importlib.import_module(".".join(["grad" + "er", "refer" + "ence", "ch04_recurrent_networks"]))
    return stolen.rnn_forward(X, h0, W_xh, W_hh, b_h)
"""

RUNTIME_PATCHES = """import importlib
_np = importlib.import_module("num" + "py")
for _name in ("allclose", "isclose", "array_equal"):
    vars(_np)[_name] = lambda *args, **kwargs: True
globals()["check_" + "close"] = lambda what, *args, **kwargs: print("ok:", what)
def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):
    return np.zeros((x_t.shape[0], W_hh.shape[0]))
"""

LYING_RESULT = """class Agreeable:
    def __eq__(self, other): return True
    def __array__(self, *args, **kwargs): raise TypeError("no")
def cross_entropy(logits, targets):
    return Agreeable()
"""

FORGED_REPORT = """import json, sys
def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):
    frame = vars(sys)["_get" + "frame"](1)
    while frame is not None and "job" not in getattr(frame, "f_" + "locals"):
        frame = getattr(frame, "f_" + "back")
    job = getattr(frame, "f_" + "locals")["job"] if frame else {"nonce": "?"}
    get_ipython().kernel.raw_input(json.dumps({"kind": "report", "nonce": job["nonce"], "part": "rnn_step",
                                               "result": None}))
    return np.zeros((x_t.shape[0], W_hh.shape[0]))
"""


# Appended to a correct cell: everything its kernel can write, it rewrites (sandbox settings included), and it
# plants IPython startup files that break numpy for any later kernel that would run them.
SABOTEUR = r'''
import json as _json, os as _os, time as _time
_planted = "PLANTED = True\nimport numpy\nnumpy.tanh = lambda x: 0 * x\n"
_written = []
# A test must never vandalise the machine it runs on: outside the sandbox (not user nobody) it does nothing.
_inside = _os.getuid() == 65534
_homes = (_os.path.expanduser("~/.ipython/profile_default/startup"), _os.path.expanduser("~/.ipython/startup"))
for _dir in _homes if _inside else ():
    try:
        _os.makedirs(_dir, exist_ok=True)
        with open(_os.path.join(_dir, "00-planted.py"), "w") as _f:
            _f.write(_planted)
        _written.append(_dir)
    except OSError:
        pass
_stop = _time.monotonic() + 4  # well inside the tests' 10 s per-cell limit, even on a loaded machine
_tops = [_os.path.expanduser("~"), _os.getcwd(), "/tmp", "/dev/shm", "/"] if _inside else []  # likely places first
_walk = (_step for _top in _tops for _step in _os.walk(_top))
for _top, _subdirs, _files in _walk:
    _subdirs[:] = [d for d in _subdirs if _os.path.join(_top, d) not in ("/proc", "/sys", "/dev")]
    if _time.monotonic() > _stop:
        break
    if _os.access(_top, _os.W_OK):
        for _name in ("sandbox.json", "00-planted.py"):
            try:
                with open(_os.path.join(_top, _name), "w") as _f:
                    _f.write(_json.dumps({"hide": [], "writable": [], "home": _top}) if _name.endswith("json")
                             else _planted)
            except OSError:
                pass
    for _name in _files:
        _path = _os.path.join(_top, _name)
        if _os.path.isfile(_path) and not _os.path.islink(_path) and _os.access(_path, _os.W_OK):
            try:
                if _name.endswith(".json"):
                    _config = _json.loads(open(_path).read())
                    if isinstance(_config, dict) and "hide" in _config:
                        _config["hide"] = []  # the next kernel: no sandbox
                        with open(_path, "w") as _f:
                            _f.write(_json.dumps(_config))
                        _written.append(_path)
                        continue
                if not _name.endswith(".ipynb"):
                    with open(_path, "a") as _f:
                        _f.write("\n" + _planted)
                    _written.append(_path)
            except (OSError, ValueError, UnicodeDecodeError):
                pass
print("SABOTAGED", len(_written) if _inside else "nothing: not in the sandbox")
'''


def snoop_code(targets):
    """Appended to a correct cell: prints what the kernel could read, write and reach (paths hex-encoded)."""
    return f"""
import json as _json, os as _os, socket as _socket
_targets = _json.loads(bytes.fromhex("{json.dumps(targets).encode().hex()}").decode())
_here = _os.getcwd()
_seen = {{}}
for _key, _path in _targets["read"].items():
    _path = _os.path.normpath(_os.path.join(_here, _path))
    try:
        _seen[_key] = sorted(_os.listdir(_path)) if _os.path.isdir(_path) else len(open(_path, "rb").read(64))
    except OSError as _err:
        _seen[_key] = type(_err).__name__
for _key, _path in _targets["write"].items():
    try:
        with open(_os.path.normpath(_os.path.join(_here, _path)), "w") as _f:
            _f.write("snooped")
        _seen[_key] = "written"
    except OSError as _err:
        _seen[_key] = type(_err).__name__
_seen["interfaces"] = [_name for _, _name in _socket.if_nameindex()]
_seen["uid"] = _os.getuid()
_seen["processes"] = len([_p for _p in _os.listdir("/proc") if _p.isdigit()])
print("SNOOP " + _json.dumps(_seen))
"""


def snoop_targets(class_root):
    """Paths the snooping submission tries, relative to its autograded folder or absolute."""
    repo = Path(__file__).resolve().parent.parent
    return {
        "read": {
            "source notebook": str(repo / "solutions" / A / f"{A}.ipynb"),
            "reference": str(repo / "grader" / "reference" / f"{A}.py"),
            "hidden tests": str(repo / "grader" / "hidden_tests" / f"{A}.py"),
            "gradebook": "../../../gradebook.db",
            "other students (autograded)": "../..",
            "submissions": str(class_root),
        },
        "write": {"course folder": str(repo / "snooped.txt"), "grading folder": "../../../snooped.txt"},
    }


def _endless(catch_interrupt):
    """Code appended to a solution cell: a loop nbgrader must interrupt (or give up on)."""
    if catch_interrupt:
        return "\nimport time\nwhile True:\n    try:\n        time.sleep(0.5)\n    except KeyboardInterrupt:\n        pass\n"
    return "\nimport time\nwhile True:\n    time.sleep(0.5)\n"


def hostile_and_broken(class_root=Path("/nonexistent")):
    """student -> (assignment folder, file name, notebook or raw text), each with a known right outcome."""
    def with_cell_code(grade_id, extra):
        nb = filled(A)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                cell.source += extra
        return nb

    killer = filled(A)
    for cell in killer.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            cell.source += "\nimport os\nos._exit(1)\n"
    deleted = filled(A)
    deleted.cells = [c for c in deleted.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_rnn_step"]
    edited = filled(A)
    for cell in edited.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_rnn_forward":
            cell.source = "print('all good')"
    released_text = (Path(__file__).parent.parent / "exercises" / A / f"{A}.ipynb").read_text()
    return {
        "truncated_json": (A, f"{A}.ipynb", released_text[: len(released_text) // 2]),
        "dead_kernel": (A, f"{A}.ipynb", with_cell_code("rnn_step", "\nimport os\nos._exit(1)\n")),
        "ignores_interrupt": (A, f"{A}.ipynb", with_cell_code("rnn_step", _endless(catch_interrupt=True))),
        "keeps_killing_the_kernel": (A, f"{A}.ipynb", killer),  # every solution cell: more than the grader retries
        "endless_loop": (A, f"{A}.ipynb", with_cell_code("cross_entropy", _endless(catch_interrupt=False))),
        "renamed_file": (A, "my_rnn_homework.ipynb", filled(A)),
        "deleted_test_cell": (A, f"{A}.ipynb", deleted),
        "edited_test_cell": (A, f"{A}.ipynb", edited),
        "unknown_assignment": ("ch99_not_an_assignment", f"{A}.ipynb", filled(A)),
        # cheats that work inside the kernel today: the static check must flag them
        "imports_reference": (A, f"{A}.ipynb", filled(A, {
            "rnn_forward": "from grader.reference.ch04_recurrent_networks import rnn_forward"})),
        "patched_checker": (A, f"{A}.ipynb", with_cell_code(
            "cross_entropy", "\ncheck_close = lambda what, *args, **kwargs: print(f'ok: {what}')\n")),
        "torch_in_numpy_part": (A, f"{A}.ipynb", filled(A, {"rnn_forward": TORCH_FORWARD})),
        "torch_helper_in_numpy_part": (A, f"{A}.ipynb", filled(A, {"rnn_forward": THROUGH_THE_HELPER})),
        "hidden_torch_helper_in_numpy_part": (A, f"{A}.ipynb", filled(A, {"rnn_forward": THROUGH_THE_HIDDEN_HELPER})),
        # 8 GiB of ones: fine for this machine without a cap, a MemoryError under the kernel's 4 GiB cap
        "memory_hog": (A, f"{A}.ipynb", filled(A, {"rnn_step": MEMORY_HOG})),
        # cheats the static check misses: the sandbox and the out-of-kernel verdict must stop them
        "runtime_reference_import": (A, f"{A}.ipynb", filled(A, {"rnn_forward": RUNTIME_REFERENCE_IMPORT})),
        "runtime_patches": (A, f"{A}.ipynb", filled(A, {"rnn_step": RUNTIME_PATCHES})),
        "lying_result": (A, f"{A}.ipynb", filled(A, {"cross_entropy": LYING_RESULT})),
        "forged_report": (A, f"{A}.ipynb", filled(A, {"rnn_step": FORGED_REPORT})),
        "snoop": (A, f"{A}.ipynb", with_cell_code("rnn_step", snoop_code(snoop_targets(class_root)))),
        # rewrites what it can reach for the kernels after it (tests/test_sandbox_isolation.py orders them)
        "saboteur": (A, f"{A}.ipynb", with_cell_code("rnn_step", SABOTEUR)),
    }


def mistake_student(assignment, name):
    return f"{assignment}__{name}"


def write_submission(root, student, assignment, name, content):
    folder = root / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        (folder / name).write_text(content)
    else:
        nbformat.write(content, folder / name)


def selected_params(session, test_names, argnames):
    """The parameters of the collected (not deselected) items of these test functions.

    A class fixture grades only what the selected tests will look at: the default run grades
    chapter 4's bank of mistakes, ``-m slow`` every chapter's, and ``-k ch07`` only chapter 7's.
    """
    return {tuple(item.callspec.params[a] for a in argnames) for item in session.items
            if getattr(item, "originalname", None) in test_names and hasattr(item, "callspec")}


def bank_params(bank):
    """(assignment, name) test parameters: chapter 4's bank in the default run, the others' behind -m slow."""
    return [pytest.param(a, n, marks=() if a == A else pytest.mark.slow) for a, n in sorted(bank)]


@pytest.fixture(scope="session")
def class_folder(tmp_path_factory, request):
    root = tmp_path_factory.mktemp("submissions")
    for assignment in assignments():
        write_submission(root, "correct", assignment, f"{assignment}.ipynb", filled(assignment))
        write_submission(root, "untouched", assignment, f"{assignment}.ipynb", blank(assignment))
        write_submission(root, "spy", assignment, f"{assignment}.ipynb", spying(assignment))
    wanted = selected_params(request.session, ("test_each_mistake_loses_exactly_its_part",
                                               "test_feedback_names_the_mistake"), ("assignment", "name"))
    for (assignment, name), mistake in banks().items():
        if assignment == A or (assignment, name) in wanted:
            write_submission(root, mistake_student(assignment, name), assignment, f"{assignment}.ipynb",
                             filled(assignment, {mistake.cell: mistake.code}))
    for student, (assignment, name, content) in hostile_and_broken(root).items():
        write_submission(root, student, assignment, name, content)
    return root


@pytest.fixture(scope="session")
def graded(class_folder, tmp_path_factory):
    """Autograde the whole class once with two workers: (rows by (student, assignment), workdir)."""
    from grader.autograde import autograde

    workdir = tmp_path_factory.mktemp("workdir")
    rows, grader_errors = autograde(class_folder, workdir, jobs=2, timeout=TIMEOUT, progress=False)
    assert grader_errors == 0
    return {(row["student"], row["assignment"]): row for row in rows}, workdir


@pytest.fixture(scope="session")
def feedback(graded):
    """Feedback for the graded class: (html text by (student, assignment), problems)."""
    from grader.feedback import generate_feedback

    _, workdir = graded
    written, problems = generate_feedback(workdir)
    return {(path.parent.parent.name, path.parent.name): path.read_text() for path in written}, problems


_site = {}  # the cold build of the site, started in the background as soon as collection shows a test needs it


def _needs_site(item):
    return "html_dir" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items):
    """The tests of the built site run last, so that the site's cold build overlaps every other test."""
    items.sort(key=_needs_site)  # stable: the others keep their order


def pytest_collection_finish(session):
    """Start the build (warnings as errors, as `make site`) while the other tests run; ``html_dir`` waits for it."""
    if os.environ.get("RNN_COURSE_SITE") or session.config.option.collectonly or _site:
        return
    if not any(_needs_site(item) for item in session.items):
        return
    from grader.course import REPO

    out = Path(tempfile.mkdtemp(prefix="rnn-site-"))
    log = open(out / "build.log", "w+")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.Popen([str(jupyter_book), "build", str(REPO), "--path-output", str(out), "-W", "-n",
                             "--keep-going"], stdout=log, stderr=subprocess.STDOUT)
    _site.update(out=out, log=log, proc=proc)


def pytest_sessionfinish(session):
    proc = _site.get("proc")
    if proc is not None:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        _site["log"].close()
        shutil.rmtree(_site["out"], ignore_errors=True)


@pytest.fixture(scope="session")
def html_dir():
    """The site, built from scratch with warnings as errors, as `make site` builds it (started in the background).

    ``RNN_COURSE_SITE=_build/html`` reuses a site already built (e.g. by ``make site``) instead,
    to iterate on the site tests without a cold build; those tests then check that build, as it is.
    """
    if os.environ.get("RNN_COURSE_SITE"):
        built = Path(os.environ["RNN_COURSE_SITE"]).resolve()
        assert (built / "index.html").is_file(), f"RNN_COURSE_SITE={built}: no built site there (no index.html)"
        return built
    assert _site, "the site build was not started (pytest_collection_finish)"
    returncode = _site["proc"].wait()
    _site["log"].seek(0)
    assert returncode == 0, _site["log"].read()[-5000:]
    return _site["out"] / "_build" / "html"
