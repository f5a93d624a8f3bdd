"""Static checks of student code: honest answers pass untouched, tricks are named."""
import numpy as np
import pytest

from grader.course import SOLUTIONS, assignments
from grader.policy import defined_names, suspicious, uses_module
from grader.submissions import code_problems, policy_deductions
from submission_bank import banks, filled, load

PROTECTED = {"check_close", "torch_rnn_states"}


@pytest.mark.parametrize("assignment", assignments())
def test_the_solution_and_every_bank_mistake_raise_no_flag(assignment):
    released = load(SOLUTIONS.parent / "exercises", assignment)
    assert code_problems(filled(assignment), released) == []
    assert policy_deductions(filled(assignment), assignment) == {}
    for (a, name), mistake in banks().items():
        if a == assignment:
            nb = filled(assignment, {mistake.cell: mistake.code})
            assert code_problems(nb, released) == [], name


@pytest.mark.parametrize("code, reason", [
    ("from grader.reference.ch04_recurrent_networks import rnn_step", "imports the instructor's grader package"),
    ("import grader", "imports the instructor's grader package"),
    ("check_close = lambda *a, **k: None", "redefines the notebook's checking helper check_close"),
    ("def check_close(*a):\n    pass", "redefines the notebook's checking helper check_close"),
    ("np.testing.assert_allclose = print", "patches the np module"),
    ("import numpy\nnumpy.isclose = lambda *a, **k: True", "patches the numpy module"),
    ("setattr(np, 'isclose', None)", "patches the np module"),
    ("import builtins\nbuiltins.abs = max", "patches the builtins module"),
    ("import sys\nsys.modules['numpy'] = None", "patches the sys module"),
    ("import os\nos._exit(0)", "stops the process (os._exit)"),
    ("open('../../solutions/ch04/ch04.ipynb').read()", "refers to instructor files"),
    ("__builtins__.len = None", "uses __builtins__"),
    ("print(In[-2])", "reads IPython's history (In)"),
    ("for line in _ih:\n    print(line)", "reads IPython's history (_ih)"),
    ("print(Out)", "reads IPython's history (Out)"),
    ("%history -g", "reads IPython's history (%history)"),
    ("import linecache\nprint(linecache.cache)", "imports linecache"),
    ("import inspect\nprint(inspect.getsource(rnn_step))", "inspects code it did not write (inspect.getsource)"),
    ("from inspect import getsource as g\nprint(g(np.tanh))", "inspects code it did not write (inspect.getsource)"),
    ("import marshal\nmarshal.dumps(rnn_step.__code__)", "imports marshal"),
    ("x = rnn_step.__code__.co_consts", "reaches into code objects or frames (__code__)"),
    ("import sys\nf = sys._getframe(1)", "reaches into code objects or frames (sys._getframe)"),
    ("import gc\nfns = gc.get_objects()", "reaches into code objects or frames (gc.get_objects)"),
])
def test_tricks_are_named(code, reason):
    assert reason in suspicious(code, PROTECTED)


def test_ordinary_code_is_not_suspicious():
    code = ("import numpy as np\nH = np.zeros((2, 3))\nH[:, 0] = 1\nx = {'a': 1}\nx['b'] = 2\n"
            "torch.manual_seed(0)\nprint('solutions are fun')\n")
    assert suspicious(code, PROTECTED) == []
    assert suspicious("def f(:\n", PROTECTED) == []  # a syntax error is the kernel's business


def test_history_and_inspection_of_own_code_are_not_suspicious():
    own = {"rnn_step"}
    assert suspicious("import inspect\nprint(inspect.getsource(rnn_step))", PROTECTED, own) == []
    assert suspicious("In = [1, 2]\nprint(In)", PROTECTED) == []  # a variable of its own
    assert suspicious("for _ in range(3):\n    pass\n_, h = divmod(7, 2)", PROTECTED) == []


def test_defined_names_reads_the_setup_cell():
    assert defined_names("import numpy as np\ndef check_close(): pass\nclass Helper: pass\nx = 1") == \
        {"check_close", "Helper"}


def test_policy_deduction_for_torch_in_a_numpy_part():
    A = "ch04_recurrent_networks"
    code = ("def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
            "    cell = torch.nn.RNNCell(W_xh.shape[1], W_xh.shape[0])\n    return cell\n")
    deductions = policy_deductions(filled(A, {"rnn_step": code}), A)
    assert list(deductions) == ["test_rnn_step"] and "plain numpy" in deductions["test_rnn_step"]
    assert uses_module("import torch.nn as nn", {"torch"}) and not uses_module("x = 1", {"torch"})


def test_a_deduction_never_applies_to_an_empty_answer():
    from submission_bank import blank

    assert policy_deductions(blank("ch04_recurrent_networks"), "ch04_recurrent_networks") == {}


# A plain-numpy part written through the setup cell's torch helpers (issue 18): one case per numpy-only part.
A4, A6 = "ch04_recurrent_networks", "ch06_backpropagation_through_time"
THROUGH_HELPERS = {
    (A4, "rnn_step"): ("def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
                       "    return torch_rnn_states(x_t[:, None], h_prev, W_xh, W_hh, b_h)[:, 0]\n",
                       lambda ns: lambda x, h, W_xh, W_hh, b: ns["torch_rnn_states"](x[:, None], h, W_xh, W_hh, b)[:, 0]),
    (A4, "rnn_forward"): ("def rnn_forward(X, h0, W_xh, W_hh, b_h):\n    return torch_rnn_states(X, h0, W_xh, W_hh, b_h)\n",
                          lambda ns: ns["torch_rnn_states"]),
    (A4, "many_to_one_logits"): (
        "def many_to_one_logits(X, h0, W_xh, W_hh, b_h, W_hy, b_y):\n"
        "    return torch_rnn_states(X, h0, W_xh, W_hh, b_h)[:, -1] @ W_hy.T + b_y\n",
        lambda ns: lambda X, h0, W_xh, W_hh, b, W_hy, b_y: ns["torch_rnn_states"](X, h0, W_xh, W_hh, b)[:, -1] @ W_hy.T + b_y),
    (A4, "cross_entropy"): (
        "def cross_entropy(logits, targets):\n    return F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(targets)).item()\n",
        lambda ns: lambda logits, targets: ns["torch"].nn.functional.cross_entropy(
            ns["torch"].from_numpy(logits), ns["torch"].from_numpy(targets)).item()),
    (A6, "rnn_backward"): (
        "def rnn_backward(cache):\n    c = cache\n"
        "    return torch_grads(c['X'], c['Y'], c['h0'], c['W_xh'], c['W_hh'], c['b_h'], c['W_hy'], np.zeros(len(c['W_hy'])))\n",
        lambda ns: lambda c: ns["torch_grads"](c["X"], c["Y"], c["h0"], c["W_xh"], c["W_hh"], c["b_h"], c["W_hy"],
                                               np.zeros(len(c["W_hy"])))),
    (A6, "step_jacobian"): (
        "def step_jacobian(h_t, W_hh):\n    return (torch.diag(1 - torch.from_numpy(h_t) ** 2) @ torch.from_numpy(W_hh)).numpy()\n",
        lambda ns: lambda h, W: (ns["torch"].diag(1 - ns["torch"].from_numpy(h) ** 2) @ ns["torch"].from_numpy(W)).numpy()),
    (A6, "jacobian_product"): (
        "def jacobian_product(H, W_hh, k, t):\n    J = torch.eye(len(W_hh), dtype=torch.float64)\n"
        "    for m in range(k + 1, t + 1):\n        J = step_jacobian(H[m], W_hh) @ J.numpy()\n    return J\n",
        lambda ns: lambda H, W, k, t: ns["torch"].eye(len(W)).numpy()),
    (A6, "truncated_bptt_grads"): (
        "def truncated_bptt_grads(X, Y, h0, W_xh, W_hh, b_h, W_hy, b_y, k):\n"
        "    return torch_grads(X, Y, h0, W_xh, W_hh, b_h, W_hy, b_y, k=k)\n",
        lambda ns: lambda *args: ns["torch_grads"](*args[:-1], k=args[-1])),
}


@pytest.mark.parametrize("assignment,part", sorted(THROUGH_HELPERS))
def test_a_numpy_part_through_torch_or_a_torch_helper_loses_its_points(assignment, part):
    """Statically (the policy follows the given helpers that use torch) and when probed (torch is switched off)."""
    from grader.hidden_tests import check_part
    from submission_bank import setup_namespace

    code, runtime = THROUGH_HELPERS[(assignment, part)]
    deductions = policy_deductions(filled(assignment, {part: code}), assignment)
    assert list(deductions) == [f"test_{part}"] and "uses torch" in deductions[f"test_{part}"]
    ns = setup_namespace(SOLUTIONS.parent / "exercises", assignment)
    with pytest.raises(RuntimeError, match="plain numpy"):
        check_part(assignment, part, runtime(ns), check_close=ns["check_close"])


def test_helpers_using_follows_helpers_into_helpers():
    from grader.policy import helpers_using

    given = ["import torch\ndef a(x):\n    return torch.tanh(x)\ndef b(x):\n    return a(x) + 1\ndef c(x):\n    return x",
             "def d(x):\n    import torch.nn\n    return x"]
    assert helpers_using(given, {"torch"}) == {"a", "b", "d"}
