"""SECURITY 6, 8, 9, 10: static checks over the source — caches, global state, HTML, scope.

Each checker is also run on a small bad sample, so a checker that stopped finding anything
would fail here rather than pass silently.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Importable packages: module-level state here lives for the whole server process.
PACKAGES = ("console", "warehouse", "pipelines")
# Streamlit scripts: re-executed per session run, so their top-level names are per run.
SCRIPTS = ("pages", "streamlit_app.py")

MUTATORS = frozenset({"append", "extend", "insert", "update", "setdefault", "add", "pop",
                      "popitem", "clear", "remove", "discard", "__setitem__", "appendleft"})
MUTABLE_CALLS = frozenset({"dict", "list", "set", "defaultdict", "OrderedDict", "Counter",
                           "deque", "WeakValueDictionary"})
# Parameter names that would put tenant or personal data into a process-wide cache key.
TENANT_PARAMS = frozenset({"session", "user", "scope", "conn", "connection", "practice_slug",
                           "practice", "patient_id", "token", "email", "phone", "first_name",
                           "last_name", "lead_id", "task_id", "user_id"})
# Reviewed process-wide state that holds no user data (module → names, and why).
ALLOWED_STATE = {
    # Engine URLs whose tables were checked once; configuration, not tenant data.
    "console/views/identity.py": {"_READY"},
    # Staffing what-if jobs keyed by (scope, inputs): per-client aggregate figures, no person;
    # read back only through staffing_job, which requires a manager and the same scope key.
    "console/views/simulation.py": {"_JOBS"},
    # Database URLs already migrated by this process (schema state, not tenant data).
    "console/migrations/__init__.py": {"_upgraded"},
    # The engines this process made (configuration, not tenant data), so that a one-shot
    # command can close their pooled connections (console/cli.py: _run_fast); and a counter
    # of this process's writes (`_generation`: a number, no data) that outdates claim windows,
    # with the wall clock of its last change (`_generation_wall`: a time, no data).
    "console/platform/db.py": {"_ENGINES", "_generation", "_generation_wall"},
    # Claim windows (issue 14): per engine and scope key (agency-wide or the exact practice
    # set, escalated or not), ranked candidates of that scope only — task ids, practice
    # slugs, pseudonymous subject ids, no names or contact details. A claim pops only the
    # window of its own user's scope key and leases through the fenced conditional UPDATE.
    # Windows shared between processes: this process's random publisher token (`_PROCESS`)
    # and its descriptors of SQLite rank-lock files (`_LOCK_FILES`): no tenant data.
    "console/work/window.py": {"_POOL", "_POOL_LOCK", "_PROCESS", "_LOCK_FILES"},
    # The process's read-only connection to the published snapshot file (like an engine's
    # pool: a resource, not a cache of anyone's results): every reader runs its own scoped
    # queries through its own cursor; it is replaced when a new snapshot is published.
    "console/platform/snapshot.py": {"_CURRENT"},
    # The queue's learned ratios per store URL with the table's version stamp (issue 13):
    # agency-wide aggregate ratios per kind, attempt, satisfaction band and category — no
    # practice, person or contact detail; the same for every user of that store.
    "console/scoring/learned.py": {"_LOADED"},
}
CACHE_DECORATORS = frozenset({"cache", "lru_cache", "cached_property", "cache_data",
                              "cache_resource"})


def _files(*roots: str) -> Iterator[Path]:
    for name in roots:
        path = ROOT / name
        yield from ([path] if path.is_file() else sorted(path.rglob("*.py")))


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _name(node: ast.AST) -> str:
    """The last dotted part of a name or attribute (`st.cache_data` → `cache_data`)."""
    if isinstance(node, ast.Call):
        return _name(node.func)
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _is_mutable(value: ast.AST | None) -> bool:
    if isinstance(value, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp
                  | ast.SetComp):
        return True
    return isinstance(value, ast.Call) and _name(value.func) in MUTABLE_CALLS


def global_state_problems(tree: ast.Module, where: str) -> list[str]:
    """Module-level mutable containers that some function mutates, and `global` statements."""
    mutable: set[str] = set()
    for statement in tree.body:
        targets = (statement.targets if isinstance(statement, ast.Assign)
                   else [statement.target] if isinstance(statement, ast.AnnAssign) else [])
        if _is_mutable(getattr(statement, "value", None)):
            mutable |= {t.id for t in targets if isinstance(t, ast.Name)}
    problems = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Global):
                problems.append(f"{where}:{node.lineno} global {', '.join(node.names)}")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and isinstance(node.func.value, ast.Name) and node.func.value.id in mutable
                  and node.func.attr in MUTATORS):
                problems.append(f"{where}:{node.lineno} mutates {node.func.value.id}")
            elif isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
                targets = node.targets if isinstance(node, ast.Assign | ast.Delete) \
                    else [node.target]
                for target in targets:
                    base = target.value if isinstance(target, ast.Subscript) else target
                    if isinstance(base, ast.Name) and base.id in mutable and (
                        isinstance(target, ast.Subscript) or isinstance(node, ast.AugAssign)
                    ):
                        problems.append(f"{where}:{node.lineno} mutates {base.id}")
    return problems


def cache_problems(tree: ast.Module, where: str) -> list[str]:
    """Caches keyed by tenant data: Streamlit caches need scope="session" or a scope key;
    functools caches may not take tenant or personal parameters at all."""
    problems = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        params = {a.arg for a in func.args.args + func.args.kwonlyargs + func.args.posonlyargs}
        for decorator in func.decorator_list:
            kind = _name(decorator)
            if kind not in CACHE_DECORATORS:
                continue
            keywords = decorator.keywords if isinstance(decorator, ast.Call) else []
            session_scoped = any(
                k.arg == "scope" and isinstance(k.value, ast.Constant)
                and k.value.value == "session" for k in keywords)
            if kind in ("cache_data", "cache_resource"):
                if not session_scoped and "scope" not in params:
                    problems.append(f"{where}:{func.lineno} {func.name}: global st.{kind}")
            elif params & TENANT_PARAMS:
                problems.append(f"{where}:{func.lineno} {func.name}: cached on "
                                f"{sorted(params & TENANT_PARAMS)}")
    return problems


def html_problems(tree: ast.Module, where: str) -> list[str]:
    """Any raw-HTML rendering: `unsafe_allow_html=True`, `st.html`, `components.html`."""
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if _name(node.func) in ("html", "iframe") and isinstance(node.func, ast.Attribute):
            problems.append(f"{where}:{node.lineno} {ast.unparse(node.func)}")
        for keyword in node.keywords:
            if keyword.arg == "unsafe_allow_html" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                problems.append(f"{where}:{node.lineno} unsafe_allow_html")
    return problems


def scope_source_problems(tree: ast.Module, where: str) -> list[str]:
    """Pages must take the scope from the server-side identity, never build one or read the URL."""
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("query_params",
                                                              "experimental_get_query_params"):
            problems.append(f"{where}:{node.lineno} reads the URL")
        if isinstance(node, ast.Name) and node.id == "Scope":
            problems.append(f"{where}:{node.lineno} builds a Scope")
    return problems


BAD_SAMPLE = '''
import streamlit as st
from functools import lru_cache
SEEN = {}
_rows: list = []
counter = 0

@st.cache_data
def patients(practice_slug): ...

@st.cache_resource(ttl=60)
def board(user): ...

@lru_cache
def card(session, task_id): ...

def remember(task):
    SEEN[task.id] = task
    _rows.append(task)
    global counter
    counter += 1

st.markdown(f"<b>{name}</b>", unsafe_allow_html=True)
st.html(name)
slugs = st.query_params.get_all("practice")
scope = Scope.of(slugs)
'''

GOOD_SAMPLE = '''
import streamlit as st
LABELS = {"a": 1}

@st.cache_data(scope="session")
def patients(practice_slug): ...

@st.cache_data
def board(*, scope, week): ...

def read():
    local = {}
    local["x"] = LABELS["a"]
    st.markdown("**bold**")
'''


@pytest.mark.parametrize(
    ("checker", "expected"),
    [
        (global_state_problems, 3),
        (cache_problems, 3),
        (html_problems, 2),
        (scope_source_problems, 2),
    ],
)
def test_each_checker_finds_the_bad_sample_and_passes_the_good(
    checker: object, expected: int
) -> None:
    bad = checker(ast.parse(BAD_SAMPLE), "bad")  # type: ignore[operator]
    assert len(bad) == expected, bad
    assert checker(ast.parse(GOOD_SAMPLE), "good") == []  # type: ignore[operator]


def test_no_tenant_data_in_global_caches() -> None:
    problems = [p for path in _files(*PACKAGES, *SCRIPTS)
                for p in cache_problems(_parse(path), str(path.relative_to(ROOT)))]
    assert problems == []


def test_no_module_level_mutable_state_in_importable_modules() -> None:
    problems = [
        p for path in _files(*PACKAGES)
        for p in global_state_problems(_parse(path), str(path.relative_to(ROOT)))
        if p.split(" ")[-1] not in ALLOWED_STATE.get(str(path.relative_to(ROOT)), set())
    ]
    assert problems == []


# Reviewed raw-HTML calls (file → function): the one same-origin POST to the app's own cookie
# routes, whose path is a constant and whose code a signed token checked against the token
# alphabet before it is placed (console/identity/session_cookie.py, docs/architecture-notes.md);
# and the console's stylesheet, a constant CSS file in the source tree (no data at all).
REVIEWED_HTML = {"pages/components.py": {"_cookie_call", "stylesheet"}}
STYLESHEET_FOLDER = ROOT / "console" / "web" / "static"


def _reviewed_lines(tree: ast.Module, functions: set[str]) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in functions:
            lines |= set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def test_no_raw_html_anywhere_the_ui_renders() -> None:
    problems = []
    for path in _files(*SCRIPTS, "console"):
        where = str(path.relative_to(ROOT))
        tree = _parse(path)
        reviewed = _reviewed_lines(tree, REVIEWED_HTML.get(where, set()))
        problems += [p for p in html_problems(tree, where)
                     if int(p.split(" ")[0].rsplit(":", 1)[1]) not in reviewed]
    assert problems == []


def test_the_reviewed_html_calls_are_the_cookie_script_and_the_stylesheet() -> None:
    """Exactly two raw-HTML calls are allowed: the one that formats the constant cookie
    script, and the one that places the constant stylesheet."""
    tree = _parse(ROOT / "pages/components.py")
    found = html_problems(tree, "pages/components.py")
    assert len(found) == 2
    from pages.components import _COOKIE_PATHS, _COOKIE_SCRIPT

    assert set(_COOKIE_PATHS.values()) == {"/auth/session", "/auth/logout"}
    assert _COOKIE_SCRIPT.startswith("<script>fetch(") and "innerHTML" not in _COOKIE_SCRIPT


def stylesheet_problems(tree: ast.Module) -> list[str]:
    """The stylesheet call takes exactly the module constant `STYLESHEET`, and that constant is
    a path built from `__file__` and string literals only (nothing a run could vary)."""
    problems = []
    calls = [node for func in tree.body if isinstance(func, ast.FunctionDef)
             and func.name == "stylesheet" for node in ast.walk(func)
             if isinstance(node, ast.Call) and _name(node.func) == "html"]
    if len(calls) != 1:
        problems.append(f"{len(calls)} st.html calls in stylesheet()")
    for call in calls:
        if call.keywords or [ast.unparse(a) for a in call.args] != ["STYLESHEET"]:
            problems.append(f"stylesheet() calls {ast.unparse(call)}")
    values = [node.value for node in tree.body if isinstance(node, ast.Assign)
              and [ast.unparse(t) for t in node.targets] == ["STYLESHEET"]]
    if len(values) != 1:
        problems.append("STYLESHEET is not assigned exactly once at module level")
    allowed_names = {"Path", "__file__"}
    for value in values:
        for node in ast.walk(value):
            if isinstance(node, ast.Name) and node.id not in allowed_names:
                problems.append(f"STYLESHEET uses {node.id}")
            if isinstance(node, ast.Constant) and not isinstance(node.value, str | int):
                problems.append(f"STYLESHEET uses {node.value!r}")
            if isinstance(node, ast.JoinedStr | ast.Call) and not (
                    isinstance(node, ast.Call) and _name(node.func) in ("Path", "resolve")
                    and all(isinstance(a, ast.Name) and a.id == "__file__" for a in node.args)):
                problems.append(f"STYLESHEET calls {ast.unparse(node)}")
    stores = [n for n in ast.walk(tree) if isinstance(n, ast.Name | ast.Attribute)
              and isinstance(n.ctx, ast.Store) and _name(n) == "STYLESHEET"]
    if len(stores) > 1:
        problems.append("STYLESHEET is reassigned")
    return problems


def test_the_stylesheet_is_a_constant_css_file_without_markup() -> None:
    """SECURITY 10: the stylesheet is a fixed file under console/web/static, no data in it."""
    assert stylesheet_problems(_parse(ROOT / "pages/components.py")) == []
    from pages.components import STYLESHEET

    assert STYLESHEET.parent == STYLESHEET_FOLDER and STYLESHEET.suffix == ".css"
    text = STYLESHEET.read_text()
    # No markup (nothing can close the <style> tag) and nothing fetched from elsewhere.
    assert "<" not in text and ">" not in text.replace("> ", "")
    assert "url(" not in text and "@import" not in text and "expression(" not in text


def test_the_stylesheet_checker_finds_a_built_or_variable_sheet() -> None:
    bad = """
import streamlit as st
STYLESHEET = Path(__file__).parent / f"{name}.css"
def stylesheet():
    st.html(STYLESHEET, width="content")
    st.html(open(STYLESHEET).read())
def later():
    global STYLESHEET
    STYLESHEET = user_path
"""
    # Two calls, both wrong; an f-string built from a name; reassigned elsewhere.
    assert len(stylesheet_problems(ast.parse(bad))) == 6


def test_pages_never_take_the_scope_from_the_url_or_build_one() -> None:
    problems = [p for path in _files(*SCRIPTS, "console/views")
                for p in scope_source_problems(_parse(path), str(path.relative_to(ROOT)))]
    assert problems == []


def jose_importers(tree: ast.Module) -> bool:
    """Whether a module imports python-jose (directly or a submodule)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "jose":
            return True
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "jose"
                                                for a in node.names):
            return True
    return False


def test_all_jwt_code_sits_in_console_tokens() -> None:
    """SECURITY 1: python-jose is imported by console/identity/tokens.py and nowhere else."""
    assert jose_importers(ast.parse("from jose.exceptions import JWKError"))
    importers = {str(path.relative_to(ROOT)) for path in _files(*PACKAGES, *SCRIPTS)
                 if jose_importers(_parse(path))}
    assert importers == {"console/identity/tokens.py"}
