"""The package follows the data's path: a module never imports from a stage later in that path, no two modules
import each other (directly or round a loop, lazily inside a function included), and no function takes a long
positional list."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "mmhealth"
STAGES = ["synth", "ingest", "lake", "views", "governance", "quality", "features", "dashboards", "ml"]
MAX_POSITIONAL = 7  # beyond this a call site cannot be read without the signature: keyword-only or a dataclass


def _from_base(path: Path, node: ast.ImportFrom) -> str:
    """The module a `from ... import` names, a relative one resolved against the module's own package
    (`from ..features import x` in mmhealth/ml/run.py -> mmhealth.features)."""
    if node.level == 0:
        return node.module or ""
    package = ["mmhealth", *path.relative_to(PACKAGE).parent.parts]
    return ".".join(package[: len(package) - (node.level - 1)] + ([node.module] if node.module else []))


def _imported_names(path: Path):
    """Every dotted name `path` imports, at module level or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield _from_base(path, node)


def imported_stages(path: Path) -> set[str]:
    found = set()
    for name in _imported_names(path):
        parts = name.split(".")
        if parts[0] == "mmhealth" and len(parts) > 1 and parts[1] in STAGES:
            found.add(parts[1])
    return found


def test_no_stage_imports_a_later_stage():
    violations = []
    for rank, stage in enumerate(STAGES):
        for path in sorted((PACKAGE / stage).rglob("*.py")):
            for other in imported_stages(path):
                if STAGES.index(other) > rank:
                    violations.append(f"{path.relative_to(PACKAGE)} imports mmhealth.{other}")
    assert not violations, "imports against the data's path:\n" + "\n".join(violations)


def test_every_stage_package_exists():
    assert all((PACKAGE / s / "__init__.py").exists() for s in STAGES)


def module_name(path: Path) -> str:
    parts = ["mmhealth", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports. `from a import b` points at module a.b when there is one,
    else at a; `import a.b.c` at the deepest of a.b.c, a.b, a that is a module. A package's `__init__` is an
    edge only when it is named (Python runs it for a submodule's import as well, but that is no design cycle)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    while parts and ".".join(parts) not in modules:
                        parts.pop()
                    if parts:
                        targets.add(".".join(parts))
            elif isinstance(node, ast.ImportFrom):
                base = _from_base(path, node)
                for alias in node.names:
                    if f"{base}.{alias.name}" in modules:
                        targets.add(f"{base}.{alias.name}")
                    elif base in modules:
                        targets.add(base)
        graph[name] = targets - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_sees_a_loop_and_nothing_else():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "modules that import each other (lazy imports included):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def _positional_counts(tree: ast.AST):
    """(function, line, positional parameters) for every def; a method's self/cls is not counted."""
    def visit(node, in_class):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = len(child.args.posonlyargs) + len(child.args.args)
                static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in child.decorator_list)
                if in_class and not static and n:
                    n -= 1
                yield child.name, child.lineno, n
                yield from visit(child, False)
            else:
                yield from visit(child, True if isinstance(child, ast.ClassDef) else in_class)
    yield from visit(tree, False)


def test_positional_counter_skips_self_and_counts_the_rest():
    tree = ast.parse("def f(a, b, /, c, *, d): pass\nclass K:\n    def m(self, a): pass\n"
                     "    @staticmethod\n    def s(a, b): pass\n")
    assert list(_positional_counts(tree)) == [("f", 1, 3), ("m", 3, 1), ("s", 5, 2)]


def test_no_function_takes_more_than_seven_positional_parameters():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name, line, n in _positional_counts(ast.parse(path.read_text(), filename=str(path))):
            if n > MAX_POSITIONAL:
                long.append(f"{path.relative_to(PACKAGE)}:{line} {name} takes {n} positional parameters")
    assert not long, (f"more than {MAX_POSITIONAL} positional parameters - make the rest keyword-only or pass a "
                      f"dataclass:\n" + "\n".join(long))
