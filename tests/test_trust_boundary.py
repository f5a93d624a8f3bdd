"""Fast tests of the trust boundary: what the worker accepts from a kernel, and how it judges it.

Everything a grading kernel says arrives as a JSON request on its stdin channel (``grader.oracle``);
``Session.answer``, ``read_report`` and ``decode`` must accept what the harness sends and nothing else,
and a malformed, forged or oversized request must cost that part only (``verdict_outputs`` returns an
error output, never raises).
"""
import json

import nbformat
import numpy as np
import pytest
import torch

from grader import verdicts
from grader.course import CourseError
from grader.oracle import MAX_REQUEST_CHARS, Session
from grader.verdicts import read_report, verdict_outputs
from grader.wire import ReportError, Unsupported, decode, encode, round_trip

A = "ch04_recurrent_networks"
NONCE = "n" * 32


def request_for(part="rnn_step", result=None, nonce=NONCE):
    """A report as the harness sends it over the kernel's stdin channel."""
    return {"kind": "report", "nonce": nonce, "part": part, "result": result}


# --- decode: the inverse of encode, for plain data only -----------------------------------------------

@pytest.mark.parametrize("value", [
    None, True, 3, 2.5, "text", complex(1, -2), [1, 2], (1, "a"), {1, 2}, {"a": [1.0], 2: (3,)},
    np.arange(6, dtype=np.int32).reshape(2, 3), np.float64(1.5), np.array(["a", "bc"]), np.bool_(True),
])
def test_decode_inverts_encode(value):
    got = round_trip(value)
    assert type(got) is type(value) or isinstance(value, np.generic)
    if isinstance(value, np.ndarray):
        assert got.dtype == value.dtype and got.shape == value.shape and np.array_equal(got, value)
    else:
        assert got == value


def test_decode_keeps_counters_and_tensors():
    from collections import Counter

    assert round_trip(Counter("aab")) == Counter("aab") and type(round_trip(Counter("ab"))) is Counter
    t = round_trip(torch.arange(3.0, requires_grad=True) * 2)
    assert isinstance(t, torch.Tensor) and t.tolist() == [0.0, 2.0, 4.0]


def test_objects_the_kernel_cannot_send_arrive_as_unsupported():
    class Agreeable:
        def __eq__(self, other):
            return True

    got = round_trip([Agreeable(), np.array([object()], dtype=object)])
    assert all(isinstance(g, Unsupported) for g in got) and "Agreeable" in repr(got[0])


@pytest.mark.parametrize("data, words", [
    ([1, 2], "untagged list"),
    ({}, "unexpected dict"),
    ({"__pickle__": "gASV"}, "unknown tag"),
    ({"__ndarray__": ["|O", [1], ""]}, "array dtype"),
    ({"__ndarray__": ["<V8", [1], "AAAAAAAAAAA="]}, "array dtype"),
    ({"__strarray__": [[2], ["a", 3]]}, "non-string"),
])
def test_decode_refuses_what_the_harness_never_writes(data, words):
    with pytest.raises(ReportError, match=words):
        decode(data)


@pytest.mark.parametrize("data", [
    {"__ndarray__": ["<f8", [3], "AAAAAAAAAAA="]},  # 8 bytes for 3 floats
    {"__ndarray__": ["<f8", [-1, 2], "AAAAAAAAAAA="]},
    {"__ndarray__": ["<f8", [1], "not base64!"]},
    {"__ndarray__": ["no such dtype", [1], ""]},
    {"__ndarray__": "short"},
    {"__dict__": [[{"__list__": [1]}, 2]]},  # an unhashable key
    {"__complex__": [[], 1]},
])
def test_decode_of_a_malformed_body_raises_an_ordinary_error(data):
    with pytest.raises((ValueError, TypeError)):
        decode(data)


def test_decode_stops_at_a_depth_the_harness_never_reaches():
    deep = 1.0
    for _ in range(60):
        deep = {"__list__": [deep]}
    with pytest.raises(ReportError, match="nested too deeply"):
        decode(deep)
    with pytest.raises(ValueError, match="nested too deeply"):  # the kernel side refuses first
        encode(eval("[" * 45 + "]" * 45))


# --- the worker's side of the channel: requests in, exactly one report of this cell out ---------------

def session(*prompts, part="rnn_step"):
    """A worker session for one hidden-test cell after the kernel sent ``prompts``: (session, replies)."""
    s = Session(A, part, NONCE, set())
    return s, [json.loads(s.answer(p if isinstance(p, str) else json.dumps(p))) for p in prompts]


def test_read_report_returns_the_cells_report():
    s, replies = session(request_for())
    assert replies == [{}] and read_report(s.reports, "rnn_step", NONCE) == request_for()


@pytest.mark.parametrize("prompts, words", [
    ([], "no report came back"),
    ([request_for()] * 2, "2 reports in one cell"),
    ([request_for(nonce="forged")], "does not belong to this cell"),
    ([request_for(part="rnn_forward")], "does not belong to this cell"),
])
def test_read_report_refuses_anything_else(prompts, words):
    s, _ = session(*prompts)
    with pytest.raises(ReportError, match=words):
        read_report(s.reports, "rnn_step", NONCE)


@pytest.mark.parametrize("prompt, words", [
    ("{not json", "JSONDecodeError"),
    ("[" * 100_000 + "]" * 100_000, "RecursionError"),  # nested past Python's recursion limit
    ("x" * (MAX_REQUEST_CHARS + 1), "reasonable size"),
    (json.dumps(request_for()).replace('"result": null', '"result": ' + "[" * 5000 + "]" * 5000), "RecursionError"),
    (json.dumps(["a list"]), "not an object"),
    (json.dumps({"kind": "exec", "code": "print(1)"}), "unknown request"),
    (json.dumps({"kind": "call", "name": "open", "args": {"__list__": []}, "kwargs": {"__dict__": []}}),
     "not a part"),
])
def test_a_malformed_request_gets_an_error_reply_and_is_never_a_report(prompt, words):
    """The worker answers every request; nothing the kernel sends is run, and a bad one stops nothing."""
    s, replies = session(prompt)
    assert words in replies[0]["error"] and s.reports == []


@pytest.mark.parametrize("result", [
    {"__list__": [{"__ndarray__": ["<f8", [5], "AAAA"]}] * 4},
    {"__pickle__": 1},
    {"__list__": [{"__dict__": [[{"__list__": []}, 1]]}] * 4},
])
def test_a_malformed_report_fails_its_part_and_nothing_else(result):
    """verdict_outputs never raises: the part gets an error output naming the problem."""
    s, _ = session(json.dumps(request_for(result=result)))
    out = verdict_outputs(A, "rnn_step", s.reports, NONCE)
    assert out[-1]["output_type"] == "error" and out[-1]["ename"] == "AssertionError"
    assert out[-1]["evalue"].startswith("rnn_step:")


def test_a_right_report_passes_and_prints_the_judges_ok_lines():
    from grader.probes import ch04_recurrent_networks as probes
    from grader.reference import ch04_recurrent_networks as ref

    s, _ = session(request_for(result=encode(probes.probe_rnn_step(ref.rnn_step))))
    out = verdict_outputs(A, "rnn_step", s.reports, NONCE)
    assert [o["output_type"] for o in out] == ["stream"]
    assert out[0]["text"].count("ok: ") == len(probes.SEEDS)


def test_an_error_report_names_the_students_error():
    report = {"kind": "report", "nonce": NONCE, "part": "rnn_step",
              "error": {"type": "ValueError", "message": "shapes (3,5) and (4,2) not aligned", "where": " (in x)"}}
    s, _ = session(report)
    out = verdict_outputs(A, "rnn_step", s.reports, NONCE)
    assert out[-1]["evalue"] == "rnn_step raised ValueError: shapes (3,5) and (4,2) not aligned (in x)"


# --- the checkers: compiled from the source notebook, never the submission's ---------------------------

def test_checkers_come_from_the_source_notebook_and_refuse_floats_for_integers():
    check_close = verdicts.checkers("ch05_training_rnn_language_models")["check_close"]
    assert check_close.__code__.co_filename == "<setup cell of ch05_training_rnn_language_models>"
    check_close("ids", np.array([1, 2]), np.array([1, 2]))
    with pytest.raises(AssertionError, match="expected integers, got values of dtype float"):
        check_close("ids", np.array([1.0, 2.0]), np.array([1, 2]))
    with pytest.raises(AssertionError, match="entries wrong"):
        check_close("x", np.array([1.0, 2.5]), np.array([1.0, 2.0]))


@pytest.mark.parametrize("assignment", __import__("grader.course", fromlist=["x"]).assignments())
def test_every_assignments_check_close_refuses_floats_where_integers_are_asked(assignment):
    check_close = verdicts.checkers(assignment)["check_close"]
    with pytest.raises(AssertionError, match="expected integers"):
        check_close("counts", [3.0, 1.0], np.array([3, 1]))
    check_close("counts", [3, 1], np.array([3, 1]))
    check_close("values", np.array([3, 1]), np.array([3.0, 1.0]))  # integers where floats are asked are fine
    check_close("values", np.array([3.0, 1.0]), [3, 1])  # a hand-written list of whole numbers asks for no dtype


# --- dispatch: a test cell is graded through its hidden region, or it is the course's error -----------

def _test_cell(source):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "test_rnn_step", "points": 3}
    return cell


@pytest.mark.parametrize("source", [
    "check_close('x', 1, 1)",  # no hidden region at all
    "### BEGIN HIDDEN TESTS\ncheck_close('x', 1, 1)\n### END HIDDEN TESTS",  # a region without the one-line call
    "### BEGIN HIDDEN TESTS\nrun_hidden_test('ch03_fixed_window_neural_lm', 'embed', globals())\n### END HIDDEN TESTS",
])
def test_a_test_cell_without_its_hidden_call_is_a_course_error_not_run_in_the_kernel(source):
    execute = verdicts.TrustedExecute()
    with pytest.raises(CourseError, match="has no hidden region calling run_hidden_test"):
        execute._run_cell(_test_cell(source), {"nbgrader": {"assignment": A}}, 0)


def test_every_source_test_cell_calls_its_hidden_test():
    from grader.course import SOLUTIONS, assignments

    for assignment in assignments():
        nb = nbformat.read(SOLUTIONS / assignment / f"{assignment}.ipynb", as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
                assert verdicts.hidden_call(cell.source) == (assignment, meta["grade_id"][len("test_"):]), \
                    (assignment, meta["grade_id"])
