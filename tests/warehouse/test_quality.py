"""Data-quality read functions never show another practice's rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.warehouse import rawdata as rd
from warehouse.quality import data_quality, quarantine_rows
from warehouse.scope import Scope
from warehouse.snapshot import publish_snapshot, reading_snapshot


@pytest.fixture
def snapshot(loopdesk_home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Quarantined rows for practices a and b and for the agency-level practices.csv."""
    with rd.raw_store() as conn:
        for slug, file, line in (
            ("a", "patients.csv", 3),
            ("b", "patients.csv", 4),
            (None, "practices.csv", 2),
        ):
            rd.insert(
                conn,
                "quarantine",
                run_id="r1",
                practice_slug=slug,
                file=file,
                line=line,
                column="phone",
                reason="malformed phone",
                raw_record="x",
                quarantined_at=rd.days_ago(1),
            )
    publish_snapshot(as_of=rd.AS_OF)
    with reading_snapshot() as conn:
        yield conn


def test_practice_scope_sees_only_its_rows(snapshot: duckdb.DuckDBPyConnection) -> None:
    """A client owner of practice a sees a's rows, nothing of b, nothing agency-level."""
    scope = Scope.of(["a"])
    assert [row["practice_slug"] for row in quarantine_rows(snapshot, scope=scope)] == ["a"]
    assert [row["practice_slug"] for row in data_quality(snapshot, scope=scope)] == ["a"]


def test_asking_for_another_practice_returns_nothing(snapshot: duckdb.DuckDBPyConnection) -> None:
    """Naming practice b explicitly from a's scope returns no rows, never b's."""
    scope = Scope.of(["a"])
    assert quarantine_rows(snapshot, scope=scope, practice_slug="b") == []
    assert data_quality(snapshot, scope=scope, practice_slug="b") == []
    assert quarantine_rows(snapshot, scope=Scope()) == []


def test_agency_scope_sees_everything(snapshot: duckdb.DuckDBPyConnection) -> None:
    """A manager sees every practice and the agency-level file, with line, column and reason."""
    rows = quarantine_rows(snapshot, scope=Scope.agency())
    assert sorted((r["practice_slug"] or "", r["file"], r["line"]) for r in rows) == [
        ("", "practices.csv", 2),
        ("a", "patients.csv", 3),
        ("b", "patients.csv", 4),
    ]
    assert {r["column_name"] for r in rows} == {"phone"}
    assert len(data_quality(snapshot, scope=Scope.agency())) == 3
