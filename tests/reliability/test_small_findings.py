"""Finding 8 (the smaller ones) through the CLI and services.

Each fails on the code before issue 10: timeout settings of 0 or below were accepted; a
deactivated user's claims stayed held until the lease lapsed; a header-only file loaded
silently; a 10,000-character patient_id was accepted; each process could open 40 connections.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from console.models.work import Task, TaskStatus
from console.platform.db import get_engine, init_db, new_session
from tests.factories import add_practice, add_task, add_user
from tests.pipelines.drops import PATIENTS_HEADER, healthy, write_drop
from tests.reliability.conftest import Runner
from warehouse.paths import raw_db_path


@pytest.mark.parametrize(("name", "value"), [
    ("LOOPDESK_SESSION_IDLE_MINUTES", "0"), ("LOOPDESK_SESSION_ABSOLUTE_HOURS", "-3"),
    ("LOOPDESK_LEASE_MINUTES", "0"), ("LOOPDESK_INGEST_MAX_FILE_BYTES", "0"),
    ("LOOPDESK_SMTP_PORT", "70000"), ("LOOPDESK_TRUSTED_PROXIES", "not-an-address"),
    ("LOOPDESK_DB_POOL_SIZE", "0"),
])
def test_bad_settings_are_refused_in_one_line(name: str, value: str, loopdesk_home: Path,
                                              cli: Runner,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    result = cli("queue", "--as", "a@agency.test")
    assert result.code == 2
    assert result.err.startswith(f"error: invalid setting {name}") and "Traceback" not in result.err
    assert result.err.count("\n") == 1


def test_deactivating_a_user_releases_their_claims(loopdesk_home: Path, cli: Runner) -> None:
    engine = get_engine()
    init_db(engine)
    with new_session(engine) as session:
        practice = add_practice(session, "alpha")
        task = add_task(session, practice, case_value=9000)
        add_user(session, "leaver@agency.test", practices=["alpha"])
        add_user(session, "stayer@agency.test", practices=["alpha"])
    claimed = json.loads(cli("claim", "--as", "leaver@agency.test", "--json").out)
    assert claimed["task_id"] == task.task_id
    result = cli("users", "deactivate", "leaver@agency.test")
    assert result.code == 0, result
    assert "leaver@agency.test deactivated" in result.out
    with new_session(engine) as session:
        stored = session.get(Task, task.task_id)
        assert stored is not None and stored.status == TaskStatus.open
        assert stored.claimed_by is None
    again = json.loads(cli("claim", "--as", "stayer@agency.test", "--json").out)
    assert again["task_id"] == task.task_id


def test_a_header_only_file_is_reported(loopdesk_home: Path, cli: Runner,
                                        tmp_path: Path) -> None:
    files = healthy()
    files["patients.csv"] = PATIENTS_HEADER
    drop = write_drop(tmp_path / "drop", files={"alpha": files})
    payload = json.loads(cli("ingest", str(drop), "--json").out)
    entry = next(f for f in payload["files"]
                 if f["practice"] == "alpha" and f["file"] == "patients.csv")
    assert "header only" in str(entry["message"])
    assert "header only" in str(payload["practices"]["alpha"]["message"])


def test_an_overlong_identifier_is_quarantined(loopdesk_home: Path, cli: Runner,
                                               tmp_path: Path) -> None:
    files = healthy()
    long_id = "P" * 10_000
    files["patients.csv"] += f"{long_id},Zed,Long,,,yes,no,no,no,,2026-10-03\n"
    drop = write_drop(tmp_path / "drop", files={"alpha": files})
    payload = json.loads(cli("ingest", str(drop), "--json").out)
    assert payload["quarantined"] >= 1
    with duckdb.connect(str(raw_db_path()), read_only=True) as connection:
        stored = connection.execute("select max(length(patient_id)) from raw_patients").fetchone()
        reasons = connection.execute("select reason from quarantine").fetchall()
    assert stored is not None and stored[0] <= 64
    assert ("longer than 64 characters",) in reasons


def test_each_process_has_a_connection_ceiling(loopdesk_home: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPDESK_DB_POOL_SIZE", "3")
    engine = get_engine(f"sqlite:///{loopdesk_home / 'ceiling.db'}")
    pool = engine.pool
    assert pool.size() == 3  # type: ignore[attr-defined]
    assert pool._max_overflow == 0  # type: ignore[attr-defined]
    held = [engine.connect() for _ in range(3)]
    try:
        assert pool.checkedout() == 3  # type: ignore[attr-defined]
        assert pool.overflow() <= 0  # type: ignore[attr-defined]  (no connection beyond it)
    finally:
        for connection in held:
            connection.close()
