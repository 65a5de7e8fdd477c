"""CSV exports neutralise formulas (SECURITY 18) and are audited."""

from __future__ import annotations

import csv
import io

import polars as pl
import pytest
from sqlmodel import Session, select

from console.models.identity import AuditEvent
from console.reporting.csv_export import export_csv, neutralise_cell, neutralise_frame, to_csv_bytes
from tests.console.access_helpers import NOW, cheap_argon2, store

__all__ = ["cheap_argon2", "store"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1 312 555 0100", "'+1 312 555 0100"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Ana", "Ana"),
        ("a=b", "a=b"),
        ("", ""),
        ("'already", "'already"),
    ],
)
def test_cells(raw: str, expected: str) -> None:
    assert neutralise_cell(raw) == expected


def test_frame_neutralises_text_and_leaves_numbers() -> None:
    frame = pl.DataFrame(
        {
            "name": ["=cmd|' /C calc'!A0", "Bo", None],
            "value": [-5, 10, 3],
            "note": ["@x", "-", "ok"],
        }
    )
    result = neutralise_frame(frame)
    assert result.to_dict(as_series=False) == {
        "name": ["'=cmd|' /C calc'!A0", "Bo", None],
        "value": [-5, 10, 3],
        "note": ["'@x", "'-", "ok"],
    }
    assert frame["name"][0] == "=cmd|' /C calc'!A0"  # the input is not mutated


def test_csv_bytes_round_trip() -> None:
    frame = pl.DataFrame({"name": ["+SUM(1)", "Cy"], "value": [1.5, -2.0]})
    text = to_csv_bytes(frame).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["name", "value"], ["'+SUM(1)", "1.5"], ["Cy", "-2.0"]]


def test_export_is_audited_by_id(store: Session) -> None:
    frame = pl.DataFrame({"task_id": [1, 2], "patient": ["Ana Real-Name", "=evil"]})
    payload = export_csv(
        session=store,
        actor="user:3",
        frame=frame,
        practice_slug="alpha",
        object_ref="export:queue",
        now=NOW,
    )
    assert b"'=evil" in payload
    event = store.exec(select(AuditEvent)).one()
    assert (event.action, event.practice_slug, event.object_ref) == (
        "export",
        "alpha",
        "export:queue",
    )
    assert "Ana" not in f"{event.actor}{event.object_ref}"
