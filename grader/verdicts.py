"""Verdicts the student's code cannot forge: hidden tests are judged in the grader, not in the kernel.

When grading, each hidden-test cell is executed as a single call into ``grader.kernel_harness``:
the kernel runs the part's probe on the student's function and reports the outputs as plain
data. ``TrustedExecute`` (the worker's execute step, which never runs student code) decodes
that report strictly, judges it against ``grader.reference`` with the hidden test's
``judge_<part>`` and checkers compiled from the *source* notebook's setup cell, and writes the
verdict as the cell's outputs, which nbgrader then scores. The visible tests of that cell are
the student's own checks; they are shown in feedback but not run at grading time.
"""
import ast
import base64
import importlib
import inspect
import io
import json
import re
import secrets
from collections import Counter
from contextlib import redirect_stdout
from functools import lru_cache

import nbformat
import numpy as np
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute

from grader.course import SOLUTIONS, CourseError, notebook_name
from grader.kernel_harness import MIME, encode

HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)
HIDDEN_CALL = re.compile(r"run_hidden_test\(\s*['\"](\w+)['\"]\s*,\s*['\"](\w+)['\"]")
MAX_REPORT_CHARS = 64 * 2 ** 20


class ReportError(ValueError):
    """The kernel's report is not what the harness writes (tampered, truncated or missing)."""


class Unsupported:
    """Stands for a value the kernel could not send; every check on it fails."""

    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return f"<{self.what}>"


def hidden_call(source):
    """(assignment, part) named by a test cell's hidden region, or None."""
    region = HIDDEN_REGION.search(source)
    match = region and HIDDEN_CALL.search(region.group(1))
    return (match.group(1), match.group(2)) if match else None


def decode(data, depth=0):
    """The inverse of ``kernel_harness.encode``, accepting nothing but plain data."""
    if depth > 50:
        raise ReportError("nested too deeply")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        raise ReportError("untagged list")
    if type(data) is not dict or not data:
        raise ReportError(f"unexpected {type(data).__name__}")
    tag, body = next(iter(data.items()))
    if tag == "__ndarray__":
        dtype, shape, raw = body
        dtype = np.dtype(dtype)
        if dtype.kind not in "biufc" or dtype.hasobject:
            raise ReportError(f"array dtype {dtype}")
        arr = np.frombuffer(base64.b64decode(raw), dtype=dtype).reshape([int(n) for n in shape]).copy()
        return arr[()] if data.get("scalar") else arr
    if tag == "__strarray__":
        shape, items = body
        if not all(type(s) is str for s in items):
            raise ReportError("non-string in a string array")
        return np.array(items, dtype=str).reshape([int(n) for n in shape])
    if tag == "__tensor__":
        import torch

        arr = decode(body, depth + 1)
        return torch.from_numpy(np.asarray(arr))
    if tag == "__complex__":
        return complex(float(body[0]), float(body[1]))
    if tag in ("__list__", "__tuple__", "__set__"):
        items = [decode(v, depth + 1) for v in body]
        return {"__list__": list, "__tuple__": tuple, "__set__": set}[tag](items)
    if tag == "__dict__":
        pairs = {decode(k, depth + 1): decode(v, depth + 1) for k, v in body}
        return Counter(pairs) if data.get("counter") else pairs
    if tag == "__unsupported__":
        return Unsupported(str(body)[:200])
    raise ReportError(f"unknown tag {tag!r}")


def round_trip(value):
    """What the grader would receive for ``value``: used when hidden tests run in the instructor's kernel."""
    return decode(json.loads(json.dumps(encode(value))))


def _closure_source(source, names):
    """Imports, plus the top-level definitions ``names`` need (transitively), as source code."""
    tree = ast.parse(source)
    defs = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defs[node.name] = node
        elif isinstance(node, ast.Assign):  # NAME = ... and NAME, NAME = ...
            for target in node.targets:
                for name in (target.elts if isinstance(target, ast.Tuple) else [target]):
                    if isinstance(name, ast.Name):
                        defs[name.id] = node
    wanted, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in wanted or name not in defs:
            continue
        wanted.add(name)
        todo += [n.id for n in ast.walk(defs[name]) if isinstance(n, ast.Name)]
    keep = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
            or any(defs.get(name) is node for name in wanted)]
    return "\n\n".join(ast.get_source_segment(source, node) for node in keep)


@lru_cache(maxsize=None)
def checkers(assignment):
    """The setup cell's check_* helpers, compiled from the source notebook (the submission's copy may be tampered)."""
    nb = nbformat.read(SOLUTIONS / assignment / notebook_name(assignment), as_version=4)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    tree = ast.parse(setup.source)
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("check_")]
    namespace = {"__name__": f"checkers_{assignment}"}
    exec(compile(_closure_source(setup.source, names), f"<setup cell of {assignment}>", "exec"), namespace)
    return {name: namespace[name] for name in names}


@lru_cache(maxsize=None)
def reference_parts_source(assignment, names):
    """Source of the reference functions ``names`` (a tuple; and what they use), nothing else of the module."""
    module = importlib.import_module(f"grader.reference.{assignment}")
    return _closure_source(inspect.getsource(module), names)


def harness_source(assignment, part, nonce):
    """The code a hidden-test cell runs in the student's kernel when grading."""
    parts = tuple(getattr(importlib.import_module(f"grader.probes.{assignment}"), "PARTS", {}).get(part, ()))
    lines = ["from grader.kernel_harness import run_probe as _run_probe",
             f"_run_probe({assignment!r}, {part!r}, globals(), {nonce!r},"]
    if parts:
        lines.append(f"           parts_source={reference_parts_source(assignment, parts)!r}, parts={parts!r},")
    lines.append(")")
    return "\n".join(lines)


def read_report(outputs, part, nonce):
    """The one report the harness displayed in this cell; anything else is a ReportError."""
    reports = [o for o in outputs if o.get("output_type") in ("display_data", "execute_result")
               and MIME in o.get("data", {})]
    if not reports:
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if errors:
            raise ReportError(f"the cell stopped with {errors[0].get('ename')}: {str(errors[0].get('evalue'))[:200]}")
        raise ReportError("no report came back from the kernel")
    if len(reports) > 1:
        raise ReportError(f"{len(reports)} reports in one cell (something in the notebook wrote a fake one)")
    text = reports[0]["data"][MIME]
    if not isinstance(text, str) or len(text) > MAX_REPORT_CHARS:
        raise ReportError("the report is not a string of reasonable size")
    try:
        report = json.loads(text)
    except (ValueError, RecursionError) as err:  # a forged report nested a million deep must not stop the notebook
        raise ReportError(f"the report is not readable JSON ({type(err).__name__})") from None
    if type(report) is not dict or report.get("nonce") != nonce or report.get("part") != part:
        raise ReportError("the report does not belong to this cell")
    return report


def judge(assignment, part, report):
    """(passed, printed text, failure message) for one decoded report."""
    if "error" in report:
        err = report["error"]
        return False, "", (f"{part} raised {str(err.get('type'))[:80]}: {str(err.get('message'))[:600]}"
                           f"{str(err.get('where', ''))[:200]}")
    got = decode(report.get("result"))
    hidden = importlib.import_module(f"grader.hidden_tests.{assignment}")
    judge_part = getattr(hidden, f"judge_{part}")
    checks = checkers(assignment)
    kwargs = {name: checks[name] for name in list(inspect.signature(judge_part).parameters)[1:]}
    printed = io.StringIO()
    try:
        with redirect_stdout(printed), np.errstate(all="ignore"):
            judge_part(got, **kwargs)
    except AssertionError as err:
        return False, printed.getvalue(), str(err)
    except Exception as err:  # the result had a shape or type the checks could not even compare
        return False, printed.getvalue(), (f"{part}: the grader could not check your result "
                                           f"({type(err).__name__}: {str(err)[:300]}); "
                                           f"does it return the documented type and shape?")
    return True, printed.getvalue(), ""


def verdict_outputs(assignment, part, outputs, nonce):
    """The outputs nbgrader scores: the judge's ok lines, and an error output if the part failed."""
    try:
        passed, printed, message = judge(assignment, part, read_report(outputs, part, nonce))
    except (ReportError, ValueError, TypeError, KeyError) as err:
        passed, printed, message = False, "", f"{part}: no usable result to grade ({err})"
    result = []
    if printed:
        result.append(nbformat.v4.new_output("stream", name="stdout", text=printed))
    if not passed:
        result.append(nbformat.v4.new_output("error", ename="AssertionError", evalue=message,
                                             traceback=[f"AssertionError: {message}"]))
    return result


class FatalCell:
    """Per worker process: the cell that last stopped a whole run, and the cells the next run must skip.

    When a cell kills the kernel or ignores the interrupt at its time limit, nbgrader gives up
    on the notebook. The worker then grades it again with that cell replaced by an error, so
    the other parts still get their points (``grader.autograde``).
    """
    last = None      # (index, grade_id or "", "killed the kernel" | "ran past the time limit")
    skip = {}        # index -> why
    started = False  # did any cell start running (False: the kernel itself did not come up)


def _skipped_output(why):
    return nbformat.v4.new_output("error", ename="CellSkipped", evalue=why, traceback=[f"CellSkipped: {why}"])


class TrustedExecute(Execute):
    """nbgrader's Execute, with hidden-test cells run as probes and judged here, in the grader."""

    def preprocess_cell(self, cell, resources, index):
        FatalCell.started = True
        if index in FatalCell.skip:
            if cell.cell_type == "code":
                cell.outputs = [_skipped_output(FatalCell.skip[index])]
            return cell, resources
        try:
            return self._run_cell(cell, resources, index)
        except (DeadKernelError, CellTimeoutError) as err:
            what = "killed the kernel" if isinstance(err, DeadKernelError) else "ran past the time limit"
            FatalCell.last = (index, cell.metadata.get("nbgrader", {}).get("grade_id", ""), what)
            raise

    def _run_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        graded_test = cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")
        call = hidden_call(cell.source) if graded_test else None
        if graded_test and (not call or call[0] != resources.get("nbgrader", {}).get("assignment")):
            # never fall back to running the cell in the student's kernel, where its verdict could be forged
            raise CourseError(f"test cell {meta.get('grade_id')!r} of {resources.get('nbgrader', {}).get('assignment')} "
                              "has no hidden region calling run_hidden_test for this assignment: fix the source "
                              "notebook in solutions/")
        if not call:
            return super().preprocess_cell(cell, resources, index)
        assignment, part = call
        original, nonce = cell.source, secrets.token_hex(16)
        cell.source = harness_source(assignment, part, nonce)
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        finally:
            cell.source = original
        cell.outputs = verdict_outputs(assignment, part, cell.outputs, nonce)
        return cell, resources
