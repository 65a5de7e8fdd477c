"""The import rules of the tree, read from the code: who imports whom, and what is allowed.

Every module of `loopdesk_core/`, `warehouse/`, `pipelines/`, `console/`, `pages/` and
`streamlit_app.py` is parsed (never imported), and each `import` / `from … import` statement
becomes an edge, wherever it sits: module level, inside a function, under `TYPE_CHECKING`. A
dotted string constant that names one of our modules exactly
(`importlib.import_module("console.x")`, `"console.web.app:create_app"`, `python -m
console.simulation.worker`) is an edge too, so a lazy import by name cannot slip past.

A module's *folder* is the nearest package (itself, if it is one) whose `__init__` docstring
states `May import: a, b, c.` (wrapped lines allowed, ending with a full stop; "nothing of ours"
for none); a top-level module states it in its own docstring. An edge to a module of the same
folder is always allowed; any other edge must name a module equal to, or under, an entry of the
folder's list. Independently the top-level packages keep the direction of ARCHITECTURE.md.

Every guard takes the root of a tree and returns its violations as lines (empty: clean), so a
test can plant a violation in a synthetic tree and watch the guard fail.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("loopdesk_core", "warehouse", "pipelines", "console", "pages")
TOP_MODULES = ("streamlit_app",)
# pages → console → warehouse ← pipelines, everything → loopdesk_core, loopdesk_core → none of
# ours. The console drives the pipelines from its CLI orchestration (console.lifecycle,
# console.commands, console.simulation, console.demo; the folder rules say which).
TOP_LEVEL: dict[str, frozenset[str]] = {
    "loopdesk_core": frozenset(),
    "warehouse": frozenset({"loopdesk_core"}),
    "pipelines": frozenset({"warehouse", "loopdesk_core"}),
    "console": frozenset({"warehouse", "pipelines", "loopdesk_core"}),
    "pages": frozenset({"console", "loopdesk_core"}),
    "streamlit_app": frozenset({"pages", "console", "loopdesk_core"}),
}
DEMO = "console.demo"
# The CLI's composition root registers the `demo` command (console/demo/commands.py): the one
# module outside console/demo/ that may name it.
DEMO_IMPORTERS = frozenset({"console.cli"})
_RULE = re.compile(r"^May import:(?P<body>.*?)\.\s*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Edge:
    """One import: `source` names `target` (a module or package of the tree) at `line`."""

    source: str
    target: str
    line: int
    at_import_time: bool  # a module-level statement outside `if TYPE_CHECKING:`
    by_name: bool = False  # a string constant naming the module, not an import statement

    def __str__(self) -> str:
        how = " (by name)" if self.by_name else ""
        return f"{self.source}:{self.line} → {self.target}{how}"


@dataclass(frozen=True)
class Tree:
    """The modules under a root: dotted name → file, and which of them are packages."""

    root: Path
    modules: dict[str, Path]
    packages: frozenset[str]
    rules: dict[str, frozenset[str]]  # folder (package or top-level module) → allowed names


def scan(root: Path) -> Tree:
    """Every module of our packages and top-level modules under `root`."""
    modules: dict[str, Path] = {}
    packages: set[str] = set()
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
                packages.add(".".join(parts))
            modules[".".join(parts)] = path
    for name in TOP_MODULES:
        if (root / f"{name}.py").exists():
            modules[name] = root / f"{name}.py"
    rules: dict[str, frozenset[str]] = {}
    for name in sorted(packages | set(TOP_MODULES)):
        if name in modules:
            rule = parse_rule(ast.get_docstring(ast.parse(modules[name].read_text())) or "")
            if rule is not None:
                rules[name] = rule
    return Tree(root=root, modules=modules, packages=frozenset(packages), rules=rules)


def _ours(name: str) -> bool:
    return name.split(".")[0] in TOP_LEVEL


def _resolve(tree: Tree, name: str) -> str:
    """The longest prefix of `name` that is a module of the tree (or `name` if none is)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in tree.modules:
            return candidate
    return name


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _edges_of(tree: Tree, module: str) -> list[Edge]:
    path = tree.modules[module]
    syntax = ast.parse(path.read_text(), filename=str(path))
    package = module if module in tree.packages else module.rpartition(".")[0]
    docstrings = {id(node.body[0].value) for node in ast.walk(syntax)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                                | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    edges: list[Edge] = []

    def add(name: str, line: int, top: bool, by_name: bool = False) -> None:
        if _ours(name):
            edges.append(Edge(module, _resolve(tree, name), line, top, by_name))

    def visit(node: ast.AST, top: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno, top)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                add(full if full in tree.modules else base, node.lineno, top)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings):
            name = node.value.split(":")[0]
            if "." in name and name in tree.modules and name != module:
                add(name, node.lineno, False, by_name=True)
        for child in ast.iter_child_nodes(node):
            if isinstance(node, ast.If) and _is_type_checking(node.test) and child in node.body:
                visit(child, False)
            else:
                visit(child, top and not isinstance(
                    node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef))

    visit(syntax, True)
    return edges


def edges(tree: Tree) -> list[Edge]:
    """Every edge of the tree, in module order."""
    return [edge for module in sorted(tree.modules) for edge in _edges_of(tree, module)]


def parse_rule(docstring: str) -> frozenset[str] | None:
    """The names after `May import:` (None when the docstring states no rule)."""
    found = _RULE.search(docstring)
    if found is None:
        return None
    body = " ".join(found.group("body").split())
    if body == "nothing of ours":
        return frozenset()
    return frozenset(name.strip() for name in body.split(",") if name.strip())


def folder_of(tree: Tree, module: str) -> str | None:
    """The nearest package (or top-level module) around `module` that states a rule."""
    rules = tree.rules
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in rules and (candidate in tree.packages or candidate == module):
            return candidate
    return None


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def rule_violations(root: Path) -> list[str]:
    """Modules with no rule around them, and rules that grant what the top level forbids."""
    tree = scan(root)
    problems = [f"{module}: no `May import:` rule in it or any package around it"
                for module in sorted(tree.modules) if folder_of(tree, module) is None]
    for folder, allowed in sorted(tree.rules.items()):
        top = folder.split(".")[0]
        for name in sorted(allowed):
            if name.split(".")[0] not in TOP_LEVEL[top] | {top}:
                problems.append(f"{folder}: its rule grants {name}, against {top}'s direction")
    return problems


def direction_violations(root: Path) -> list[str]:
    """Edges against the top-level direction or against the importing folder's rule."""
    tree = scan(root)
    rules = tree.rules
    problems: list[str] = []
    for edge in edges(tree):
        source_top, target_top = edge.source.split(".")[0], edge.target.split(".")[0]
        if source_top != target_top and target_top not in TOP_LEVEL[source_top]:
            problems.append(f"{edge}: {source_top} may not import {target_top}")
            continue
        folder, target_folder = folder_of(tree, edge.source), folder_of(tree, edge.target)
        if folder is None or target_folder == folder:
            continue
        if not any(_under(edge.target, allowed) for allowed in rules[folder]):
            problems.append(f"{edge}: {folder} may import only {', '.join(sorted(rules[folder]))}")
    return problems


def cycle_violations(root: Path) -> list[str]:
    """Cycles between folders (any edge) and between modules (edges run at import time).

    Folders: every edge counts, lazy ones too, because a lazy import is still a dependency; a
    cycle means two contexts each need the other. Modules: only statements executed when the
    module loads count (a function-level import inside one folder, e.g. a package naming its
    own submodules lazily, cannot fail on load order); implicit imports of parent packages do
    not count.
    """
    tree = scan(root)
    folders: dict[str, set[str]] = {}
    modules: dict[str, set[str]] = {}
    for edge in edges(tree):
        source, target = folder_of(tree, edge.source), folder_of(tree, edge.target)
        if source and target and source != target:
            folders.setdefault(source, set()).add(target)
        if edge.at_import_time and not edge.by_name and edge.source != edge.target:
            modules.setdefault(edge.source, set()).add(edge.target)
    return ([f"folders import each other: {' ⇄ '.join(c)}" for c in _cycles(folders)]
            + [f"modules import each other at import time: {' ⇄ '.join(c)}"
               for c in _cycles(modules)])


def demo_violations(root: Path, allowed: Iterable[str] = DEMO_IMPORTERS) -> list[str]:
    """Edges into console.demo from outside it, other than from the composition root."""
    tree = scan(root)
    exceptions = frozenset(allowed)
    besides = f" (and {', '.join(sorted(exceptions))})" if exceptions else ""
    return [f"{edge}: only console/demo/{besides} may use the demo"
            for edge in edges(tree)
            if _under(edge.target, DEMO) and not _under(edge.source, DEMO)
            and edge.source not in exceptions]
