"""Every validation rule quarantines a literal bad row with its file, line, column and reason."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import ingest
from tests.pipelines.drops import (
    PATIENT_OK,
    PATIENTS_HEADER,
    PRACTICES_CSV,
    REFERRAL_OK,
    REFERRALS_HEADER,
    TREATMENT_OK,
    TREATMENTS_HEADER,
    healthy,
    write_drop,
)
from warehouse.paths import raw_db_path


def quarantine(home: Path) -> list[tuple[object, ...]]:
    """(practice, file, line, column, reason) of every quarantined row."""
    del home
    with duckdb.connect(str(raw_db_path()), read_only=True) as connection:
        return connection.execute(
            'select practice_slug, file, line, "column", reason from quarantine order by file, line'
        ).fetchall()


PATIENT_CASES = [
    ("P9,A,B,(312) 555-01,,y,y,y,n,5,\n", "phone", "malformed phone number"),
    ("P9,A,B,,not-mail,y,y,y,n,5,\n", "email", "malformed email address"),
    ("P9,A,B,,,maybe,y,y,n,5,\n", "consent_call", "not a boolean (true/false/yes/no/y/n/1/0)"),
    ("P9,A,B,,,y,,y,n,5,\n", "consent_text", "missing value"),
    ("P9,A,B,,,y,y,y,n,11,\n", "satisfaction_score", "out of range 0-10"),
    ("P9,A,B,,,y,y,y,n,7.5,\n", "satisfaction_score", "not a whole number"),
    ("P9,A,B,,,y,y,y,n,5,31/12/2025\n", "updated_at", "not an ISO 8601 date or date-time"),
    ("P9,A,B,,,y,y,y,n,5,2027-06-01\n", "updated_at", "is in the future"),
    (",A,B,,,y,y,y,n,5,\n", "patient_id", "missing value"),
]


@pytest.mark.parametrize(("row", "column", "reason"), PATIENT_CASES)
def test_patient_rules(
    loopdesk_home: Path, tmp_path: Path, row: str, column: str, reason: str
) -> None:
    files = healthy()
    files["patients.csv"] = PATIENTS_HEADER + PATIENT_OK + row
    summary = ingest(write_drop(tmp_path / "drop", files={"alpha": files}))
    assert quarantine(loopdesk_home) == [("alpha", "patients.csv", 3, column, reason)]
    assert summary.totals("alpha")["quarantined"] == 1


TREATMENT_CASES = [
    ("T9,P1,X,implant,,-10,2026-11-01,\n", "value", "negative value"),
    ("T9,P1,X,implant,,abc,2026-11-01,\n", "value", "not a number"),
    ("T9,P1,X,teeth,,10,2026-11-01,\n", "category", "unknown category"),
    ("T9,P1,X,implant,,10,,\n", "completed_at", "missing value"),
    ("T9,P1,X,implant,,10,2026-13-45,\n", "completed_at", "not an ISO 8601 date or date-time"),
    ("T9,P1,X,implant,,10,2026-12-25,\n", "completed_at", "is in the future"),
    ("T9,P1,X,implant,,10,2026-11-01,2026-10-01\n", "results_visible_at", "before completed_at"),
    (
        "T9,P404,X,implant,,10,2026-11-01,\n",
        "patient_id",
        "unknown patient (not in this drop's patients nor loaded before)",
    ),
]


@pytest.mark.parametrize(("row", "column", "reason"), TREATMENT_CASES)
def test_treatment_rules(
    loopdesk_home: Path, tmp_path: Path, row: str, column: str, reason: str
) -> None:
    files = healthy()
    files["treatments.csv"] = TREATMENTS_HEADER + TREATMENT_OK + row
    ingest(write_drop(tmp_path / "drop", files={"alpha": files}))
    assert quarantine(loopdesk_home) == [("alpha", "treatments.csv", 3, column, reason)]


REFERRAL_CASES = [
    ("L9,P1,A,B,12345,,2026-11-20,new,,,\n", "lead_phone", "malformed phone number"),
    ("L9,P1,A,B,,x@,2026-11-20,new,,,\n", "lead_email", "malformed email address"),
    ("L9,P1,A,B,,,not a date,new,,,\n", "referred_at", "not an ISO 8601 date or date-time"),
    ("L9,P1,A,B,,,2026-11-20,lost,,,\n", "status", "unknown lead status"),
    ("L9,P1,A,B,,,2026-11-20,booked,2026-11-19,,\n", "status_at", "before referred_at"),
    ("L9,P1,A,B,,,2026-11-20,booked,2026-11-21,-300,\n", "booked_value", "negative value"),
    (
        "L9,P404,A,B,,,2026-11-20,new,,,\n",
        "referrer_patient_id",
        "unknown patient (not in this drop's patients nor loaded before)",
    ),
]


@pytest.mark.parametrize(("row", "column", "reason"), REFERRAL_CASES)
def test_referral_rules(
    loopdesk_home: Path, tmp_path: Path, row: str, column: str, reason: str
) -> None:
    files = healthy()
    files["referrals.csv"] = REFERRALS_HEADER + REFERRAL_OK + row
    ingest(write_drop(tmp_path / "drop", files={"alpha": files}))
    assert quarantine(loopdesk_home) == [("alpha", "referrals.csv", 3, column, reason)]


def test_practice_rules(loopdesk_home: Path, tmp_path: Path) -> None:
    practices = PRACTICES_CSV + (
        "Bad Slug,X,med_spa,America/Chicago,10,\n"
        "gamma,X,med_spa,Mars/Olympus,10,\n"
        "delta,X,med_spa,America/Chicago,200,\n"
    )
    summary = ingest(write_drop(tmp_path / "drop", practices=practices))
    rows = quarantine(loopdesk_home)
    assert [(line, column) for _, _, line, column, _ in rows] == [
        (4, "practice_slug"),
        (5, "timezone"),
        (6, "contracted_hours_per_week"),
    ]
    assert summary.to_json()["inserted"] == 2


def test_a_repeated_line_is_quarantined_as_duplicate_of_the_first(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    changed = PATIENT_OK.replace("Ann,", "Anne,")
    files = healthy()
    files["patients.csv"] = PATIENTS_HEADER + PATIENT_OK + PATIENT_OK + changed
    summary = ingest(write_drop(tmp_path / "drop", files={"alpha": files}))
    assert quarantine(loopdesk_home) == [
        ("alpha", "patients.csv", 3, None, "duplicate of line 2"),
        (
            "alpha",
            "patients.csv",
            4,
            "patient_id",
            "same patient_id as line 2 with different content",
        ),
    ]
    assert summary.totals("alpha")["inserted"] == 3  # P1, T1, L1


def test_line_numbers_count_line_breaks_inside_quoted_fields(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    files = healthy()
    files["treatments.csv"] = (
        TREATMENTS_HEADER
        + 'T1,P1,X,implant,"two\nlines",10,2026-11-01,\n'
        + "T2,P1,X,implant,,-5,2026-11-01,\n"
    )
    ingest(write_drop(tmp_path / "drop", files={"alpha": files}))
    assert quarantine(loopdesk_home) == [("alpha", "treatments.csv", 4, "value", "negative value")]


def test_line_numbers_of_quoted_files_with_and_without_line_breaks_in_one_scan(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    # Both practices' treatments are read in one scan: alpha's quotes hold no line break (the
    # running count is skipped when no field of the scan holds one), beta's hold two; each
    # file's lines are still its own physical lines.
    alpha, beta = healthy(), healthy()
    alpha["treatments.csv"] = (
        TREATMENTS_HEADER
        + 'T1,P1,X,implant,"one, line",10,2026-11-01,\n'
        + "T2,P1,X,implant,,-5,2026-11-01,\n"
    )
    beta["treatments.csv"] = (
        TREATMENTS_HEADER
        + 'T1,P1,X,implant,"two\nlines",10,2026-11-01,\n'
        + 'T2,P1,X,implant,"and\nthree\nhere",10,2026-11-01,\n'
        + "T3,P1,X,implant,,-5,2026-11-01,\n"
    )
    expected = [
        ("alpha", "treatments.csv", 3, "value", "negative value"),
        ("beta", "treatments.csv", 7, "value", "negative value"),
    ]
    ingest(write_drop(tmp_path / "drop", files={"alpha": alpha, "beta": beta}))
    assert quarantine(loopdesk_home) == expected
    # alpha alone (no line break anywhere in the scan): the same line, so the identical
    # quarantine row is skipped rather than recorded again under another line.
    ingest(write_drop(tmp_path / "alpha-only", files={"alpha": alpha}))
    assert quarantine(loopdesk_home) == expected
