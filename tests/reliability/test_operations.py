"""`loopdesk backup` / `restore` into a fresh home give the same queue, audit chain and
metrics; `loopdesk audit verify` names the first bad row; `loopdesk db upgrade` repeats safely."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from console.models.practice import PracticeSettings
from console.platform.db import get_engine, init_db, new_session
from tests.factories import add_user
from tests.reliability.conftest import Runner
from tests.worlds import FIXED_NOW, build_generated_world

NOW = datetime.fromisoformat(FIXED_NOW)


def _json(cli: Runner, *args: str) -> object:
    result = cli(*args, "--json")
    assert result.code == 0, result
    return json.loads(result.out)


@pytest.fixture
def worked_home(loopdesk_home: Path, cli: Runner, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A built world with a coordinator who has claimed and logged calls (audit events)."""
    monkeypatch.delenv("LOOPDESK_SECRET_KEY")  # the generated secret.key is backed up
    build_generated_world(loopdesk_home / "drop", practices=2, seed=9, months=3, now=NOW)
    init_db(get_engine())
    with new_session(get_engine()) as session:
        slugs = [p.practice_slug for p in session.exec(select(PracticeSettings)).all()]
        add_user(session, "coord@agency.test", practices=slugs)
    for _ in range(3):
        claimed = _json(cli, "claim", "--as", "coord@agency.test")
        assert isinstance(claimed, dict)
        assert cli("log", str(claimed["task_id"]), "--as", "coord@agency.test",
                   "--disposition", "no_answer", "--minutes", "3").code == 0
    # The nightly build: the queue learns from logged calls at each build (issue 13), so a
    # rebuild after a restore must have nothing new to learn for the queue to stay the same.
    assert cli("build").code == 0
    return loopdesk_home


def _state(cli: Runner) -> dict[str, object]:
    return {
        "queue": _json(cli, "queue", "--as", "coord@agency.test", "--limit", "200"),
        "audit": _json(cli, "audit", "verify"),
        "metrics": _json(cli, "metrics"),
    }


def test_backup_then_restore_into_a_fresh_home_gives_the_same_state(
    worked_home: Path, cli: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = _state(cli)
    link = cli("report-link", "--practice", _first_practice(before), "--days", "3")
    assert link.code == 0, link
    before = _state(cli)  # the link is audited too
    out = tmp_path / "backup"
    manifest = _json(cli, "backup", "--out", str(out))
    assert isinstance(manifest, dict)
    assert set(manifest["files"]) == {"loopdesk.db", "raw.duckdb", "snapshot.duckdb",
                                      "secret.key"}
    for entry in out.iterdir():
        assert stat.S_IMODE(entry.stat().st_mode) == 0o600, entry
    assert stat.S_IMODE(out.stat().st_mode) == 0o700

    fresh = tmp_path / "fresh-home"
    monkeypatch.setenv("LOOPDESK_HOME", str(fresh))
    restored = _json(cli, "restore", str(out))
    assert isinstance(restored, dict)
    after = _state(cli)
    assert after == before
    assert isinstance(after["audit"], dict) and after["audit"]["ok"] is True
    assert (fresh / "secret.key").read_bytes() == (worked_home / "secret.key").read_bytes()
    # A rebuild from the restored raw store changes nothing either.
    assert cli("build").code == 0
    assert _json(cli, "queue", "--as", "coord@agency.test", "--limit", "200") == before["queue"]


def _first_practice(state: dict[str, object]) -> str:
    queue = state["queue"]
    assert isinstance(queue, list) and queue
    return str(queue[0]["practice_slug"])


def test_backup_refuses_a_folder_with_files(worked_home: Path, cli: Runner,
                                            tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("")
    result = cli("backup", "--out", str(tmp_path / "busy"))
    assert result.code == 2 and result.err.startswith("error: ")
    result = cli("restore", str(tmp_path / "busy"))
    assert result.code == 2 and "not a Loopdesk backup" in result.err


def test_audit_verify_names_the_first_bad_row(worked_home: Path, cli: Runner) -> None:
    good = _json(cli, "audit", "verify")
    assert isinstance(good, dict) and good["ok"] is True and good["events"] >= 6
    with get_engine().begin() as connection:
        connection.execute(text("update audit_events set actor = 'someone-else' where seq = 3"))
    broken = cli("audit", "verify", "--json")
    assert broken.code == 1
    assert json.loads(broken.out)["first_bad_seq"] == 3
    plain = cli("audit", "verify")
    assert plain.code == 1 and "seq 3" in plain.err


def test_db_upgrade_is_safe_to_repeat(loopdesk_home: Path, cli: Runner) -> None:
    first = _json(cli, "db", "upgrade")
    second = _json(cli, "db", "upgrade")
    assert isinstance(first, dict) and isinstance(second, dict)
    assert first["to_revision"] == second["to_revision"] == second["from_revision"]
    assert os.path.exists(loopdesk_home / "loopdesk.db")


@pytest.mark.postgres
def test_backup_and_restore_on_postgres(loopdesk_home: Path, cli: Runner,
                                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """pg_dump into the backup, pg_restore into another database and a fresh home."""
    from tests.postgres import fresh_database

    with fresh_database("loopdesk_backup") as source, fresh_database("loopdesk_restore") as target:
        monkeypatch.setenv("LOOPDESK_DATABASE_URL", source)
        build_generated_world(loopdesk_home / "drop", practices=1, seed=5, months=2, now=NOW)
        init_db(get_engine())
        with new_session(get_engine()) as session:
            slugs = [p.practice_slug for p in session.exec(select(PracticeSettings)).all()]
            add_user(session, "coord@agency.test", practices=slugs)
        claimed = _json(cli, "claim", "--as", "coord@agency.test")
        assert isinstance(claimed, dict)
        before = _state(cli)
        manifest = _json(cli, "backup", "--out", str(tmp_path / "pg-backup"))
        assert isinstance(manifest, dict) and "loopdesk.pgdump" in manifest["files"]
        monkeypatch.setenv("LOOPDESK_DATABASE_URL", target)
        monkeypatch.setenv("LOOPDESK_HOME", str(tmp_path / "fresh"))
        assert cli("restore", str(tmp_path / "pg-backup")).code == 0
        assert _state(cli) == before
        get_engine(source).dispose()
        get_engine(target).dispose()
