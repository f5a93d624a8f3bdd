"""The grader's modules import each other without cycles (function-level imports included)."""
import ast

from grader.course import REPO

GRADER = REPO / "grader"


def imports_of(path):
    """Modules of the grader package that ``path`` imports anywhere in its body."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("grader")}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [module]).strip(".")
            if module.startswith("grader"):
                out.add(module)
                out |= {f"{module}.{a.name}" for a in node.names}
    return out


def graph():
    modules = {}
    for path in GRADER.rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}


def cycles_through(start, edges):
    """Import paths that lead from ``start`` back to it."""
    found, stack = [], [(start, [start])]
    while stack:
        node, path = stack.pop()
        for nxt in edges.get(node, ()):
            if nxt == start:
                found.append(path + [start])
            elif nxt not in path and len(path) < 8:
                stack.append((nxt, path + [nxt]))
    return found


def test_the_kernel_launch_modules_are_in_no_import_cycle():
    edges = graph()
    for module in ("grader.course", "grader.limited_kernel", "grader.sandbox", "grader.autograde"):
        assert cycles_through(module, edges) == [], module


def test_the_cycle_finder_finds_a_cycle():
    assert cycles_through("a", {"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
