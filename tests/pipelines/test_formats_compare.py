"""The same generated world as canonical CSV, FHIR Bulk Data and Open Dental tables loads the
same patients, treatments and ask tasks; canonical and Open Dental the same leads, tasks and
metrics (up to what a format cannot carry: docs/data-contract.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipelines.formats_world import Built, build_format
from tests.worlds import point_at_home

FORMATS = ("canonical", "fhir", "opendental")


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Built]]:
    root = tmp_path_factory.mktemp("formats")
    yield {f: build_format(root, f, practices=3, seed=5, months=8) for f in FORMATS}


def _n(value: object) -> int | None:
    """An id as its number: the generator's P000042 and Open Dental's PatNum 42 are one patient."""
    return None if value is None else int(re.sub(r"\D", "", str(value)))


def _patients(world: Built) -> list[tuple[object, ...]]:
    rows = world.marts(
        "select practice_slug, patient_id, first_name, last_name, phone, email, "
        "do_not_contact, is_contactable from mart_patients"
    )
    return sorted((r[0], _n(r[1]), *r[2:]) for r in rows)


def _treatments(world: Built) -> list[tuple[object, ...]]:
    rows = world.marts(
        "select practice_slug, treatment_id, patient_id, category, value, completed_at, "
        "results_visible_at from mart_treatments"
    )
    return sorted((r[0], _n(r[1]), _n(r[2]), *r[3:]) for r in rows)


def _tasks(world: Built, kinds: tuple[str, ...]) -> list[tuple[object, ...]]:
    listed = ", ".join(f"'{k}'" for k in kinds)
    rows = world.store(
        "select practice_slug, kind, subject_type, subject_id, treatment_id, lead_id "
        f"from tasks where kind in ({listed})"
    )
    return sorted((r[0], r[1], r[2], _n(r[3]), _n(r[4]), _n(r[5])) for r in rows)


def test_every_format_accounts_for_every_record(worlds: dict[str, Built]) -> None:
    keys = ("inserted", "updated", "unchanged", "quarantined", "filtered")
    for world in worlds.values():
        summary = world.summary
        assert summary["rows_in"] == sum(summary[k] for k in keys)  # type: ignore[misc]
        assert summary["quarantined"] == 0
        formats = {p["format"] for p in summary["practices"].values()}  # type: ignore[attr-defined]
        assert formats == {world.format}
    assert worlds["canonical"].summary["filtered"] == 0
    assert worlds["fhir"].summary["filtered"] > 0  # Claim and Consent lines enrich, not load


def test_same_patients_treatments_and_ask_tasks(worlds: dict[str, Built]) -> None:
    canonical = worlds["canonical"]
    patients, treatments = _patients(canonical), _treatments(canonical)
    asks = _tasks(canonical, ("ask",))
    assert len(patients) > 500 and len(treatments) > 500 and len(asks) > 50
    for fmt in ("fhir", "opendental"):
        assert _patients(worlds[fmt]) == patients, fmt
        assert _treatments(worlds[fmt]) == treatments, fmt
        assert _tasks(worlds[fmt], ("ask",)) == asks, fmt


def _leads(world: Built) -> list[tuple[object, ...]]:
    rows = world.marts(
        "select practice_slug, lead_id, referrer_patient_id, lead_first_name, lead_phone, "
        "status, booked_value, became_patient_id, referred_at, status_at, first_contact_at, "
        "outcome_at, strftime(referred_at at time zone p.timezone, '%H:%M') "
        "from mart_leads join mart_practices as p using (practice_slug)"
    )
    # referred_at is the practice's local midnight in both (a date: Open Dental's RefDate).
    assert {r[12] for r in rows} == {"00:00"}
    return sorted((r[0], _n(r[1]), _n(r[2]), *r[3:7], _n(r[7]), *r[8:12]) for r in rows)


def test_canonical_and_opendental_same_leads_tasks_and_metrics(
    worlds: dict[str, Built], monkeypatch: pytest.MonkeyPatch
) -> None:
    canonical, dental = worlds["canonical"], worlds["opendental"]
    leads = _leads(canonical)
    assert len(leads) > 100
    assert _leads(dental) == leads
    # Every task but review requests (they follow satisfaction, which Open Dental does not hold).
    kinds = ("ask", "contact_lead", "close_loop")
    assert _tasks(dental, kinds) == _tasks(canonical, kinds)
    assert {k for (_, k, *_) in _tasks(canonical, kinds)} == set(kinds)

    from warehouse.metrics import compute_metrics
    from warehouse.scope import Scope
    from warehouse.snapshot import reading_snapshot

    def metrics(world: Built) -> dict[str, object]:
        point_at_home(monkeypatch, world.home)
        with reading_snapshot() as conn:
            result = compute_metrics(conn, scope=Scope.agency())
        return result["agency"]  # type: ignore[no-any-return]

    ours, theirs = metrics(dental), metrics(canonical)
    # Both drops give each referral its date only (Open Dental's RefDate has no time of day), so
    # every metric and every count is exactly equal, timed ones (referral window, lead SLA) too.
    assert ours["counts"]["leads"] > 100  # type: ignore[index]
    assert ours == theirs


def test_generate_format_is_deterministic(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from pipelines.generate import generate_exports

    now = datetime(2026, 11, 26, 15, tzinfo=UTC)
    for fmt in ("fhir", "opendental"):
        first, second = tmp_path / f"{fmt}-1", tmp_path / f"{fmt}-2"
        for out in (first, second):
            generate_exports(out, practices=2, seed=3, months=3, now=now, format=fmt)
        files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
        assert files
        for name in files:
            assert (first / name).read_bytes() == (second / name).read_bytes(), name
