"""The export generator: deterministic, realistic, relative to the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from pipelines.generate import generate_exports

NOW = datetime(2026, 11, 26, 15, tzinfo=UTC)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.csv"))}


def test_same_seed_and_now_give_identical_bytes(tmp_path: Path) -> None:
    generate_exports(tmp_path / "a", practices=3, seed=5, months=3, now=NOW)
    generate_exports(tmp_path / "b", practices=3, seed=5, months=3, now=NOW)
    generate_exports(tmp_path / "c", practices=3, seed=6, months=3, now=NOW)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert _files(tmp_path / "a") != _files(tmp_path / "c")


def test_demo_practices_span_zones_and_specialties(tmp_path: Path) -> None:
    generate_exports(tmp_path, practices=12, seed=1, months=2, now=NOW, dirty_share=0)
    practices = pl.read_csv(tmp_path / "practices.csv", infer_schema=False)
    assert practices.height == 12
    assert practices["timezone"].n_unique() >= 4
    assert practices["specialty"].n_unique() == 7
    rows = set(practices.select("specialty", "timezone").iter_rows())
    assert {
        ("med_spa", "America/Phoenix"),
        ("dental_implants", "America/Chicago"),
        ("lasik", "America/Denver"),
    } <= rows
    onboarded = practices["onboarded_at"].drop_nulls().str.to_date()
    assert onboarded.len() >= 9
    assert all(180 <= (NOW.date() - day).days <= 275 for day in onboarded.to_list())


def test_data_is_fresh_relative_to_now(tmp_path: Path) -> None:
    generate_exports(tmp_path, practices=2, seed=2, months=12, now=NOW, dirty_share=0)
    slug = "lakeshore-dental-implants"
    treatments = pl.read_csv(tmp_path / slug / "treatments.csv", infer_schema=False)
    completed = treatments["completed_at"].str.to_datetime(strict=False)
    assert completed.max() < NOW.replace(tzinfo=None)  # type: ignore[operator]
    recent = completed.filter(completed > NOW.replace(tzinfo=None) - timedelta(days=40))
    assert recent.len() > 0  # results visible within the last 30 days exist
    leads = pl.read_csv(tmp_path / slug / "referrals.csv", infer_schema=False)
    statuses = set(leads["status"].to_list())
    assert {"new", "booked", "declined"} <= statuses
    fresh = leads.filter(
        (pl.col("status") == "new")
        & (pl.col("referred_at").str.to_datetime(time_zone="UTC") > NOW - timedelta(days=3))
    )
    assert fresh.height > 0


def test_clean_generation_has_no_dirty_rows(tmp_path: Path) -> None:
    summary = generate_exports(tmp_path, practices=2, seed=2, months=3, now=NOW, dirty_share=0)
    assert summary.dirty_rows == 0
    assert summary.treatments > 0 and summary.patients > 0
