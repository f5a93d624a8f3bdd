"""Static checks of the code a student wrote, before any of it runs.

They look for what an honest answer never needs: importing the instructor's ``grader``
package, reading instructor files, redefining the notebook's checking helpers, patching a
library or the interpreter, stopping the process, reading IPython's history or ``linecache``,
or looking into code and frames it did not write (``inspect.getsource``, ``__code__``).
A hit does not change the score by itself; it flags the submission with a reason for an
instructor to look at. Per-assignment ``POLICY`` rules in ``grader/hidden_tests/<assignment>.py``
(a part that must be written without some library) cost that part's points, and never give any.
"""
import ast
import importlib
import re

PATCHABLE = {"np", "numpy", "torch", "builtins", "sys", "os", "math", "random", "nbgrader"}
STOPPERS = {("os", "_exit"), ("os", "kill"), ("os", "abort"), ("sys", "exit"), ("os", "killpg")}
INSTRUCTOR_PATHS = ("solutions/", "gradebook", ".grading", "autograded/", "hidden_tests", "grader/reference")
HISTORY = re.compile(r"^(In|Out|_ih|_oh|_dh|_i{1,3}|_i\d+|_\d+|__|___)$")  # IPython's input and output history
HISTORY_MAGIC = re.compile(r"^\s*%+\s*(history|hist|recall|rerun)\b", re.M)
INSPECT_CODE = {"getsource", "getsourcelines", "getsourcefile", "getfile", "findsource", "getcomments",
                "getclosurevars", "getmodule", "getmembers", "unwrap"}
FRAMES = {("inspect", "stack"), ("inspect", "currentframe"), ("inspect", "getouterframes"), ("inspect", "trace"),
          ("sys", "_getframe"), ("gc", "get_objects"), ("gc", "get_referrers"), ("gc", "get_referents")}
CODE_ATTRIBUTES = {"__code__", "__globals__", "__closure__", "__func__", "co_code", "co_consts", "f_locals",
                   "f_globals", "f_back", "tb_frame", "gi_frame"}


def _root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def suspicious(source, protected_names=(), own_names=None):
    """Reasons why ``source`` (one cell) needs an instructor's look; [] for ordinary code.

    ``own_names``: the functions and classes the submission defines (default: those of this cell).
    """
    reasons = {"reads IPython's history (%history)"} if HISTORY_MAGIC.search(source) else set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return sorted(reasons)  # the kernel reports it; a syntax error is not a trick
    reasons |= introspection(tree, defined_names(source) if own_names is None else set(own_names))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "grader" for a in node.names):
            reasons.add("imports the instructor's grader package")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "grader":
            reasons.add("imports the instructor's grader package")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in protected_names:
                    reasons.add(f"redefines the notebook's checking helper {target.id}")
                elif isinstance(target, (ast.Attribute, ast.Subscript)) and _root_name(target) in PATCHABLE:
                    reasons.add(f"patches the {_root_name(target)} module")
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in protected_names:
            reasons.add(f"redefines the notebook's checking helper {node.name}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "setattr" and node.args \
                    and _root_name(node.args[0]) in PATCHABLE:
                reasons.add(f"patches the {_root_name(node.args[0])} module")
            if isinstance(func, ast.Attribute) and (_root_name(func), func.attr) in STOPPERS:
                reasons.add(f"stops the process ({_root_name(func)}.{func.attr})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and any(p in node.value for p in INSTRUCTOR_PATHS):
            reasons.add("refers to instructor files")
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "__import__"):
            reasons.add(f"uses {node.id}")
    return sorted(reasons)


def introspection(tree, own_names):
    """Reasons: reading history or ``linecache``, inspecting code other than ``own_names``, reaching into frames."""
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
    from_inspect = {a.asname or a.name: a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                    and n.module == "inspect" for a in n.names if a.name in INSPECT_CODE}
    reasons = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and HISTORY.match(node.id) \
                and node.id not in bound:
            reasons.add(f"reads IPython's history ({node.id})")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            reasons |= {f"imports {m}" for m in modules if m.split(".")[0] in ("linecache", "marshal")}
        elif isinstance(node, ast.Attribute) and node.attr in CODE_ATTRIBUTES:
            reasons.add(f"reaches into code objects or frames ({node.attr})")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) and _root_name(func) == "inspect" else \
                from_inspect.get(func.id) if isinstance(func, ast.Name) else None
            if name in INSPECT_CODE:
                target = node.args[0] if node.args else None
                if not (isinstance(target, ast.Name) and target.id in own_names):
                    reasons.add(f"inspects code it did not write (inspect.{name})")
            elif isinstance(func, ast.Attribute) and (_root_name(func), func.attr) in FRAMES:
                reasons.add(f"reaches into code objects or frames ({_root_name(func)}.{func.attr})")
    return reasons


def defined_names(source):
    """Names a (locked, instructor-written) cell defines: the helpers students must not redefine."""
    tree = ast.parse(source)
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def submission_names(sources):
    """The functions and classes the cells ``sources`` define (cells that do not parse define nothing)."""
    names = set()
    for source in sources:
        try:
            names |= defined_names(source)
        except SyntaxError:
            pass
    return names


def assignment_policy(assignment):
    """The assignment's ``POLICY``: {solution cell: (forbidden module names, test cell, why)}."""
    module = importlib.import_module(f"grader.hidden_tests.{assignment}")
    return getattr(module, "POLICY", {})


def helpers_using(sources, names):
    """Functions and classes defined in ``sources`` (instructor cells) that use a module in ``names``,
    directly or through another such helper: a numpy-only part must not call them either."""
    defs = {}
    for source in sources:
        for node in ast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defs[node.name] = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | \
                    {a.name.split(".")[0] for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))
                     for a in ([ast.alias(n.module or "")] if isinstance(n, ast.ImportFrom) else n.names)}
    tainted, grew = set(), True
    while grew:
        grew = False
        for name, used in defs.items():
            if name not in tainted and used & (set(names) | tainted):
                tainted.add(name)
                grew = True
    return tainted


def uses_module(source, names):
    """True if ``source`` imports or refers to any module in ``names`` (e.g. {"torch"})."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] in names for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in names:
            return True
        if isinstance(node, ast.Name) and node.id in names:
            return True
    return False
