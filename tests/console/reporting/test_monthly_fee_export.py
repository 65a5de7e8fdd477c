"""The optional `monthly_fee` column of practices.csv: loaded, validated, and export-owned only
when present (a blank or a missing column keeps the fee a manager set)."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import duckdb
from sqlmodel import Session

from console.lifecycle.build import build_everything
from console.models.practice import PracticeSettings
from console.platform.db import get_engine
from pipelines.ingest import ingest
from tests.worlds import FIXED_NOW, build_generated_world

NOW = datetime.fromisoformat(FIXED_NOW)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict[str, str]], columns: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _fees() -> dict[str, float | None]:
    with Session(get_engine()) as session:
        from sqlmodel import select

        return {p.practice_slug: p.monthly_fee for p in session.exec(select(PracticeSettings))}


def test_the_fee_column_is_optional_validated_and_export_owned(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    build_generated_world(drop, practices=2, seed=5, months=2, now=NOW, dirty_share=0.0)
    rows = _rows(drop / "practices.csv")
    first, second = sorted(row["practice_slug"] for row in rows)
    assert _fees() == {row["practice_slug"]: float(row["monthly_fee"]) for row in rows}

    # A manager sets the second practice's fee; the next export has a blank there.
    with Session(get_engine()) as session:
        practice = session.get(PracticeSettings, second)
        assert practice is not None
        practice.monthly_fee = 1234.0
        session.add(practice)
        session.commit()
    columns = list(rows[0])
    for row in rows:
        row["monthly_fee"] = "7000" if row["practice_slug"] == first else ""
    _write(drop / "practices.csv", rows, columns)
    ingest(drop)
    build_everything(now=NOW)
    assert _fees() == {first: 7000.0, second: 1234.0}

    # An export without the column at all is read as blank: nothing changes.
    _write(drop / "practices.csv", rows, [c for c in columns if c != "monthly_fee"])
    summary = ingest(drop)
    assert all(f.status == "ok" for f in summary.files if f.file == "practices.csv")
    build_everything(now=NOW)
    assert _fees() == {first: 7000.0, second: 1234.0}

    # A negative fee is a quarantined row with a reason, never a loaded one.
    for row in rows:
        row["monthly_fee"] = "-5" if row["practice_slug"] == first else ""
    _write(drop / "practices.csv", rows, columns)
    summary = ingest(drop)
    [result] = [f for f in summary.files if f.file == "practices.csv"]
    assert result.quarantined == 1
    raw = duckdb.connect(str(loopdesk_home / "warehouse" / "raw.duckdb"), read_only=True)
    try:
        reasons = raw.execute("select \"column\", reason from quarantine "
                              "where file = 'practices.csv'").fetchall()
    finally:
        raw.close()
    assert ("monthly_fee", "negative value") in reasons
