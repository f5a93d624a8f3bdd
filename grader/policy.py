"""Static checks of the code a student wrote, before any of it runs.

They look for what an honest answer never needs: importing the instructor's ``grader``
package, reading instructor files, redefining the notebook's checking helpers, patching a
library or the interpreter, or stopping the process. A hit does not change the score by
itself; it flags the submission with a reason for an instructor to look at. Per-assignment
``POLICY`` rules in ``grader/hidden_tests/<assignment>.py`` (a part that must be written
without some library) cost that part's points, and never give any.
"""
import ast
import importlib

PATCHABLE = {"np", "numpy", "torch", "builtins", "sys", "os", "math", "random", "nbgrader"}
STOPPERS = {("os", "_exit"), ("os", "kill"), ("os", "abort"), ("sys", "exit"), ("os", "killpg")}
INSTRUCTOR_PATHS = ("solutions/", "gradebook", ".grading", "autograded/", "hidden_tests", "grader/reference")


def _root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def suspicious(source, protected_names=()):
    """Reasons why ``source`` (one cell) needs an instructor's look; [] for ordinary code."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # the kernel reports it; a syntax error is not a trick
    reasons = set()
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


def defined_names(source):
    """Names a (locked, instructor-written) cell defines: the helpers students must not redefine."""
    tree = ast.parse(source)
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


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
