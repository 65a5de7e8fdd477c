"""`loopdesk generate` and `loopdesk ingest` through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from console.cli import app

runner = CliRunner()


def test_generate_then_ingest_json(loopdesk_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "drop"
    generated = runner.invoke(
        app, ["generate", "--practices", "2", "--seed", "4", "--months", "2", "--out", str(out)]
    )
    assert generated.exit_code == 0, generated.output
    assert (out / "practices.csv").is_file()
    result = runner.invoke(app, ["ingest", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) >= {
        "rows_in",
        "inserted",
        "updated",
        "unchanged",
        "quarantined",
        "practices",
        "files",
    }
    assert payload["rows_in"] == sum(
        payload[k] for k in ("inserted", "updated", "unchanged", "quarantined")
    )
    assert set(payload["practices"]) == {"lakeshore-dental-implants", "desert-bloom-med-spa"}


def test_ingest_of_a_missing_folder_is_a_one_line_error(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path / "absent")])
    assert result.exit_code != 0
    message = str(result.exception) if result.exception else result.output
    assert "no such folder" in message
    assert "Traceback" not in result.output


def test_build_says_full_or_incremental_and_full_forces_a_full_build(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    """`build --json` keeps its keys and adds `mode`; once the first build's new tasks are in
    the warehouse, a build with nothing changed is incremental; `--full` rebuilds everything."""
    out = tmp_path / "drop"
    assert runner.invoke(app, ["generate", "--practices", "2", "--seed", "3", "--out", str(out),
                               "--months", "3"]).exit_code == 0
    assert runner.invoke(app, ["ingest", str(out), "--json"]).exit_code == 0
    modes = []
    for args in (["build", "--json"],) * 3 + (["build", "--full", "--json"],):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        built = json.loads(result.stdout)
        assert {"snapshot", "build_id", "models", "checks", "tasks_created"} <= set(built)
        modes.append(built["mode"])
    assert modes == ["full", "full", "incremental", "full"]
