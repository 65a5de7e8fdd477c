"""The whole loop through the CLI: `build --json` and the `demo` a new user runs first."""

from __future__ import annotations

import json
import stat
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from pipelines.generate import generate_exports
from tests.conftest import FIXED_NOW


def _invoke_json(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload: dict[str, object] = json.loads(result.stdout)
    return payload


def test_build_json_counts_tasks_and_a_rebuild_changes_nothing(loopdesk_home: Path) -> None:
    """Second build on unchanged data: no task created or closed, the same number open."""
    exports = loopdesk_home / "exports"
    generate_exports(exports, practices=2, seed=5, months=4, now=datetime.fromisoformat(FIXED_NOW))
    _invoke_json("ingest", str(exports))

    first = _invoke_json("build")
    second = _invoke_json("build")

    assert first["tasks_created"] == first["tasks_open"]
    assert isinstance(first["tasks_open"], int) and first["tasks_open"] > 0
    assert first["tasks"] == {
        "created": first["tasks_created"],
        "closed": first["tasks_closed"],
        "open": first["tasks_open"],
    }
    assert (second["tasks_created"], second["tasks_closed"]) == (0, 0)
    assert second["tasks_open"] == first["tasks_open"]


def test_build_before_any_ingest_publishes_an_empty_warehouse(loopdesk_home: Path) -> None:
    """A fresh home builds an empty warehouse: no crash, no tasks."""
    payload = _invoke_json("build")
    assert payload["tasks_open"] == 0


@pytest.mark.slow
def test_demo_sets_everything_up_once_and_prints_the_logins(loopdesk_home: Path) -> None:
    """`demo --no-serve`: data, snapshot, tasks, users; run again it reuses all of it."""
    runner = CliRunner()
    first = runner.invoke(app, ["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    assert "coordinator@demo.loopdesk.test" in first.stdout
    assert "manager@demo.loopdesk.test" in first.stdout

    logins_file = loopdesk_home / "demo-logins.json"
    logins = json.loads(logins_file.read_text())
    assert stat.S_IMODE(logins_file.stat().st_mode) == 0o600
    roles = {login["role"] for login in logins}
    assert roles == {"coordinator", "manager", "client_owner"}

    second = runner.invoke(app, ["demo", "--no-serve"])
    assert second.exit_code == 0, second.output
    assert json.loads(logins_file.read_text()) == logins
    assert "tasks: 0 created, 0 closed" in second.output
