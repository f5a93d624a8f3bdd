"""Verdicts the student's code cannot forge: hidden tests are judged in the grader, not in the kernel.

When grading, each hidden-test cell is executed, without history, as the one line
``grader.kernel_harness.HARNESS_SOURCE``: the kernel asks for its job over the stdin channel,
runs the part's probe on the student's function and reports the outputs as plain data
(``grader.oracle`` answers on the worker's side, including the stand-ins for earlier parts that
failed). ``TrustedExecute`` (the worker's execute step, which never runs student code) decodes
that report strictly, judges it against ``grader.reference`` with the hidden test's
``judge_<part>`` and checkers compiled from the *source* notebook's setup cell, and writes the
verdict as the cell's outputs, which nbgrader then scores. The visible tests of that cell are
the student's own checks; they are shown in feedback but not run at grading time.
"""
import ast
import asyncio
import importlib
import inspect
import io
import re
import secrets
from contextlib import redirect_stdout
from functools import lru_cache

import nbformat
import numpy as np
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbgrader.preprocessors import Execute

from grader.course import SOLUTIONS, CourseError, notebook_name
from grader.kernel_harness import HARNESS_SOURCE
from grader.oracle import Session
from grader.wire import ReportError, decode

HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)
HIDDEN_CALL = re.compile(r"run_hidden_test\(\s*['\"](\w+)['\"]\s*,\s*['\"](\w+)['\"]")


def hidden_call(source):
    """(assignment, part) named by a test cell's hidden region, or None."""
    region = HIDDEN_REGION.search(source)
    match = region and HIDDEN_CALL.search(region.group(1))
    return (match.group(1), match.group(2)) if match else None


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


def read_report(reports, part, nonce):
    """The one report the harness sent for this cell; anything else is a ReportError."""
    if not reports:
        raise ReportError("no report came back from the kernel")
    if len(reports) > 1:
        raise ReportError(f"{len(reports)} reports in one cell (something in the notebook sent a fake one)")
    report = reports[0]
    if report.get("nonce") != nonce or report.get("part") != part:
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


def verdict_outputs(assignment, part, reports, nonce):
    """The outputs nbgrader scores: the judge's ok lines, and an error output if the part failed."""
    try:
        passed, printed, message = judge(assignment, part, read_report(reports, part, nonce))
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
    """nbgrader's Execute, with hidden-test cells run as probes and judged here, in the grader.

    Per notebook it remembers which parts passed, so that a later part's probe calls the
    student's own earlier function when it passed and a stand-in answered here when it did not.
    """

    def preprocess(self, nb, resources=None, km=None):
        self.passed = set()
        return super().preprocess(nb, resources, km)

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
        session = Session(assignment, part, secrets.token_hex(16), getattr(self, "passed", set()))
        original, cell.source = cell.source, HARNESS_SOURCE
        try:
            self._check_assign_resources(resources)
            cell = self.execute_harness(cell, index, session)
        finally:
            cell.source = original
            session.close()
        cell.outputs = verdict_outputs(assignment, part, session.reports, session.nonce)
        if not any(o.get("output_type") == "error" for o in cell.outputs):
            getattr(self, "passed", set()).add(part)
        return cell, self.resources

    async def async_execute_harness(self, cell, index, session):
        """Run the harness cell without history, answering the kernel's input requests from ``session``."""
        self.kc.allow_stdin = True
        server = asyncio.ensure_future(self._async_serve(session))
        try:
            return await self.async_execute_cell(cell, index, store_history=False)
        finally:
            self.kc.allow_stdin = False
            server.cancel()

    execute_harness = run_sync(async_execute_harness)

    async def _async_serve(self, session):
        while True:
            msg = await ensure_async(self.kc.stdin_channel.get_msg(timeout=None))
            if msg.get("msg_type") == "input_request":
                self.kc.input(session.answer(msg.get("content", {}).get("prompt")))
