"""Ingest runs: idempotence, updates, paused and broken feeds, row conservation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.generate import generate_exports
from pipelines.ingest import SourceError, ingest
from pipelines.summary import COUNT_KEYS, IngestSummary
from tests.pipelines.drops import PATIENT_OK, PATIENTS_HEADER, healthy, write_drop
from warehouse.paths import raw_db_path

NOW = datetime(2026, 11, 26, 15, tzinfo=UTC)


def query(sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(raw_db_path()), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def assert_conserved(summary: IngestSummary) -> None:
    """rows_in = inserted + updated + unchanged + quarantined overall, per practice, per file."""
    payload = summary.to_json()
    levels = [payload, *payload["practices"].values(), *payload["files"]]
    for level in levels:
        assert level["rows_in"] == sum(level[k] for k in COUNT_KEYS[1:])
    assert payload["rows_in"] == sum(f["rows_in"] for f in payload["files"])


def test_same_drop_twice_changes_nothing(loopdesk_home: Path, tmp_path: Path) -> None:
    drop = write_drop(tmp_path / "drop", files={"alpha": healthy(), "beta": healthy()})
    first = ingest(drop)
    assert first.totals()["inserted"] == first.totals()["rows_in"] == 2 + 2 * 4
    before = query("select * from raw_patients order by all")
    second = ingest(drop)
    assert second.totals()["unchanged"] == second.totals()["rows_in"]
    assert query("select * from raw_patients order by all") == before
    assert query("select count(*) from ingest_runs") == [(2,)]


def test_a_changed_row_is_updated(loopdesk_home: Path, tmp_path: Path) -> None:
    drop = write_drop(tmp_path / "drop", files={"alpha": healthy()})
    ingest(drop)
    files = healthy()
    files["patients.csv"] = files["patients.csv"].replace(",9,", ",10,")
    summary = ingest(write_drop(drop, files={"alpha": files}))
    assert summary.to_json()["practices"]["alpha"]["updated"] == 1
    assert query("select satisfaction_score from raw_patients where patient_id = 'P1'") == [(10,)]


def test_values_are_typed_and_normalised(loopdesk_home: Path, tmp_path: Path) -> None:
    ingest(write_drop(tmp_path / "drop", files={"alpha": healthy()}))
    assert query(
        "select phone, email, consent_call, consent_text, do_not_contact, updated_at "
        "from raw_patients where patient_id = 'P1'"
    ) == [
        (
            "+13125550100",
            "ann@example.com",
            True,
            True,
            False,
            datetime(2026, 10, 1, 15, tzinfo=UTC),
        )
    ]
    assert query("select completed_at, results_visible_at from raw_treatments") == [
        (datetime(2026, 11, 1, 15, 30, tzinfo=UTC), None)  # CST from 1 Nov
    ]


def test_a_practice_missing_a_column_is_paused_while_others_load(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    drop = write_drop(tmp_path / "drop", files={"alpha": healthy(), "beta": healthy()})
    ingest(drop)
    renamed = healthy()
    renamed["patients.csv"] = (
        renamed["patients.csv"].replace("phone,", "mobile,", 1).replace(",9,", ",10,")
    )
    beta = healthy(PATIENT_OK.replace("P1,", "P3,"))
    summary = ingest(write_drop(drop, files={"alpha": renamed, "beta": beta}))
    practices = summary.to_json()["practices"]
    assert practices["alpha"]["status"] == "paused"
    assert "missing column(s): phone" in practices["alpha"]["message"]
    assert practices["beta"]["status"] == "ok"
    assert practices["beta"]["inserted"] == 1
    assert query(
        "select satisfaction_score from raw_patients "
        "where practice_slug = 'alpha' and patient_id = 'P1'"
    ) == [(9,)]
    assert ("alpha", "patients.csv", "paused") in query(
        "select practice_slug, file, status from feed_status"
    )
    assert_conserved(summary)


def test_extra_columns_are_ignored_and_reported(loopdesk_home: Path, tmp_path: Path) -> None:
    files = healthy()
    files["treatments.csv"] = (
        files["treatments.csv"]
        .replace("results_visible_at\n", "results_visible_at,notes\n")
        .replace("09:30,\n", "09:30,,hello\n")
    )
    summary = ingest(write_drop(tmp_path / "drop", files={"alpha": files}))
    result = summary.practices["alpha"]
    assert result.status == "ok"
    assert result.message == "treatments.csv: ignored extra column(s): notes"
    assert summary.totals("alpha")["inserted"] == 4


BAD_FILES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "file is empty"),
    ("binary", PATIENTS_HEADER.encode() + b"P1,\x00\x01\x02\n", "binary file (contains NUL bytes)"),
    (
        "latin-1",
        PATIENTS_HEADER.encode() + "P1,Zoë,Lee,,,y,y,y,n,,\n".encode("latin-1"),
        "not UTF-8 text",
    ),
    (
        "cut mid-record",
        (PATIENTS_HEADER + PATIENT_OK + "P2,Bob,Ray").encode(),
        "truncated file: the last line has 3 of 11 fields",
    ),
    (
        "open quote",
        (PATIENTS_HEADER + PATIENT_OK + 'P2,"Bob,Ray,,,y,y,y,n,,\n').encode(),
        "truncated file: a quoted field is never closed",
    ),
]


@pytest.mark.parametrize(("kind", "content", "message"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_broken_files_give_a_clear_error_and_keep_other_practices(
    loopdesk_home: Path, tmp_path: Path, kind: str, content: bytes, message: str
) -> None:
    del kind
    broken: dict[str, str | bytes] = dict(healthy())
    broken["patients.csv"] = content
    summary = ingest(write_drop(tmp_path / "drop", files={"alpha": broken, "beta": healthy()}))
    files = {(f.practice, f.file): f for f in summary.files}
    assert files[("alpha", "patients.csv")].status == "error"
    assert files[("alpha", "patients.csv")].message == message
    assert summary.practices["alpha"].status == "error"
    assert summary.totals("beta")["inserted"] == 4
    assert ("alpha", "patients.csv", "error") in query(
        "select practice_slug, file, status from feed_status"
    )
    assert_conserved(summary)


def test_oversized_files_are_refused(loopdesk_home: Path, tmp_path: Path) -> None:
    summary = ingest(write_drop(tmp_path / "drop", files={"alpha": healthy()}), max_file_bytes=100)
    messages = {f.file: f.message for f in summary.files if f.practice == "alpha"}
    assert "over the 100-byte limit" in str(messages["patients.csv"])
    assert summary.totals("alpha")["rows_in"] == 0


def test_practice_option_loads_only_that_folder(loopdesk_home: Path, tmp_path: Path) -> None:
    drop = write_drop(tmp_path / "drop", files={"alpha": healthy(), "beta": healthy()})
    summary = ingest(drop, practice="beta")
    assert set(summary.practices) == {"beta"}
    assert query("select practice_slug from raw_practices") == [("beta",)]
    with pytest.raises(SourceError):
        ingest(drop, practice="nope")


def test_unknown_practice_folder_is_an_error(loopdesk_home: Path, tmp_path: Path) -> None:
    summary = ingest(write_drop(tmp_path / "drop", files={"zeta": healthy()}))
    assert summary.practices["zeta"].status == "error"
    assert "not in practices.csv" in str(summary.practices["zeta"].message)


def test_missing_folder_raises_source_error(loopdesk_home: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such folder"):
        ingest(tmp_path / "absent")


def test_generated_dirty_drop_conserves_rows(loopdesk_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    generated = generate_exports(out, practices=3, seed=3, months=3, now=NOW, dirty_share=0.05)
    summary = ingest(out)
    totals = summary.totals()
    assert totals["rows_in"] == (
        generated.practices + generated.patients + generated.treatments + generated.referrals
    )
    assert totals["quarantined"] >= generated.dirty_rows > 0
    assert_conserved(summary)
    (quarantined,) = query("select count(*) from quarantine")[0]
    assert quarantined == totals["quarantined"]
    again = ingest(out)
    assert again.totals()["unchanged"] == totals["inserted"]
    assert query("select count(*) from quarantine")[0] == (quarantined,)
