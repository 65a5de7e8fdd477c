"""The tree keeps its shape: folder rules stated, imports in the allowed direction, no cycles,
and nothing outside console/demo/ using the demo (tests/layout_rules.py says exactly how)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.layout_rules import (
    cycle_violations,
    demo_violations,
    direction_violations,
    parse_rule,
    rule_violations,
)

REPO = Path(__file__).resolve().parents[1]
CONTEXTS = ("platform", "models", "identity", "contact", "messaging", "scoring", "work",
            "outreach", "reporting", "lifecycle", "web", "demo", "views", "commands",
            "simulation", "migrations")


def test_every_module_lives_under_a_stated_rule() -> None:
    assert rule_violations(REPO) == []


def test_every_console_folder_states_what_it_may_import() -> None:
    for name in CONTEXTS:
        doc = (REPO / "console" / name / "__init__.py").read_text()
        assert parse_rule(doc) is not None, name


def test_imports_follow_the_allowed_direction() -> None:
    assert direction_violations(REPO) == []


def test_no_cycles_between_folders_or_modules() -> None:
    assert cycle_violations(REPO) == []


def test_nothing_outside_console_demo_uses_the_demo() -> None:
    assert demo_violations(REPO) == []


def test_context_folders_import_nothing_on_their_own() -> None:
    """A folder's `__init__` is its docstring only: importing one service loads no others."""
    inits = [REPO / "loopdesk_core" / "__init__.py", REPO / "console" / "__init__.py"] + [
        REPO / "console" / name / "__init__.py" for name in CONTEXTS
        if name not in ("models", "migrations")]  # the tables register together; Alembic
    for init in inits:
        code = [line for line in init.read_text().split('"""', 2)[2].splitlines() if line.strip()]
        assert code == [], init


# --- the guards fail on planted violations --------------------------------------------------

def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


CLEAN = {
    "loopdesk_core/__init__.py": '"""Core.\n\nMay import: nothing of ours.\n"""\n',
    "loopdesk_core/clock.py": '"""Clock."""\n',
    "warehouse/__init__.py": '"""Warehouse.\n\nMay import: loopdesk_core.\n"""\n',
    "warehouse/snapshot.py": '"""Snapshot."""\nfrom loopdesk_core import clock\n',
    "pipelines/__init__.py": '"""Pipelines.\n\nMay import: warehouse, loopdesk_core.\n"""\n',
    "pipelines/build.py": '"""Build."""\nimport warehouse.snapshot\n',
    "pages/__init__.py": '"""Pages.\n\nMay import: console.high, loopdesk_core.\n"""\n',
    "pages/home.py": '"""Home."""\nfrom console.high import service\n',
    "console/__init__.py": (
        '"""Console.\n\nMay import: console.high, console.demo,\nloopdesk_core.\n"""\n'),
    "console/cli.py": (
        '"""CLI."""\nimport importlib\n\n'
        'importlib.import_module("console.demo.commands")\n'),
    "console/low/__init__.py": '"""Low.\n\nMay import: loopdesk_core, warehouse.\n"""\n',
    "console/low/store.py": '"""Store."""\nfrom loopdesk_core.clock import *  # noqa\n',
    "console/low/rules.py": '"""Rules."""\nfrom console.low import store\n',
    "console/high/__init__.py": (
        '"""High.\n\nMay import: console.low, loopdesk_core, warehouse, pipelines.\n"""\n'),
    "console/high/service.py": (
        '"""Service."""\nfrom console.low.rules import store\n\n\n'
        'def build() -> None:\n    from pipelines import build\n'),
    "console/demo/__init__.py": '"""Demo.\n\nMay import: console.high, console.low.\n"""\n',
    "console/demo/commands.py": '"""Demo command."""\nfrom console.high import service\n',
}


def _all(root: Path) -> list[str]:
    return (rule_violations(root) + direction_violations(root) + cycle_violations(root)
            + demo_violations(root))


def test_the_synthetic_tree_is_clean_before_anything_is_planted(tmp_path: Path) -> None:
    assert _all(_write(tmp_path, CLEAN)) == []


def test_an_upward_import_inside_a_function_fails(tmp_path: Path) -> None:
    root = _write(tmp_path, {**CLEAN, "console/low/rules.py": (
        '"""Rules."""\n\n\ndef late() -> None:\n    from console.high import service\n')})
    problems = direction_violations(root)
    assert problems == ["console.low.rules:5 → console.high.service: console.low may import "
                        "only loopdesk_core, warehouse"]
    assert cycle_violations(root) == ["folders import each other: console.high ⇄ console.low"]


def test_an_import_against_the_top_level_direction_fails(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        **CLEAN,
        "warehouse/snapshot.py": '"""Snapshot."""\nfrom console.low import store\n',
        "loopdesk_core/clock.py": '"""Clock."""\nimport warehouse\n',
    })
    assert direction_violations(root) == [
        "loopdesk_core.clock:2 → warehouse: loopdesk_core may not import warehouse",
        "warehouse.snapshot:2 → console.low.store: warehouse may not import console",
    ]


def test_a_rule_granting_an_upward_package_fails(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        **CLEAN, "warehouse/__init__.py": '"""Warehouse.\n\nMay import: console.low.\n"""\n'})
    assert rule_violations(root) == [
        "warehouse: its rule grants console.low, against warehouse's direction"]


def test_a_module_without_a_rule_fails(tmp_path: Path) -> None:
    root = _write(tmp_path, {**CLEAN, "pipelines/__init__.py": '"""Pipelines."""\n'})
    assert "pipelines.build: no `May import:` rule in it or any package around it" in (
        rule_violations(root))


def test_an_import_time_cycle_between_modules_fails(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        **CLEAN, "console/low/store.py": '"""Store."""\nfrom console.low.rules import x\n'})
    assert cycle_violations(root) == [
        "modules import each other at import time: console.low.rules ⇄ console.low.store"]


def test_a_function_level_import_back_is_no_module_cycle(tmp_path: Path) -> None:
    root = _write(tmp_path, {**CLEAN, "console/low/store.py": (
        '"""Store."""\n\n\ndef rules() -> None:\n    from console.low import rules\n')})
    assert cycle_violations(root) == []


@pytest.mark.parametrize("planted", [
    '"""Service."""\nfrom console.demo import commands\n',
    '"""Service."""\n\n\ndef run() -> None:\n    from console.demo.commands import x\n',
    '"""Service."""\nimport importlib\n\nimportlib.import_module("console.demo.commands")\n',
])
def test_core_importing_the_demo_fails(tmp_path: Path, planted: str) -> None:
    root = _write(tmp_path, {
        **CLEAN,
        "console/high/__init__.py": (
            '"""High.\n\nMay import: console.low, console.demo, loopdesk_core, warehouse,\n'
            'pipelines.\n"""\n'),
        "console/high/service.py": planted,
    })
    problems = demo_violations(root)
    assert len(problems) == 1
    assert problems[0].startswith("console.high.service:")
    assert "→ console.demo.commands" in problems[0]


def test_the_composition_root_is_the_only_exception(tmp_path: Path) -> None:
    root = _write(tmp_path, CLEAN)
    assert demo_violations(root) == []
    assert demo_violations(root, allowed=()) == [
        "console.cli:4 → console.demo.commands (by name): only console/demo/ may use the demo"]
