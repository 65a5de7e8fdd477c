"""CSV exports that spreadsheets cannot run as formulas (SECURITY 18), and their audit."""

from __future__ import annotations

from datetime import datetime

import polars as pl
from sqlmodel import Session

from console.identity import audit
from console.identity.audit import Action, Outcome

# A cell starting with one of these may be evaluated by Excel, Sheets or LibreOffice.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_TRIGGER_PATTERN = r"^[=+\-@\t\r]"


def neutralise_cell(value: str) -> str:
    """`value` with a leading `'` when it would otherwise start a formula."""
    return f"'{value}" if value.startswith(FORMULA_TRIGGERS) else value


def neutralise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text cell of `frame` neutralised; numbers and dates are left as they are."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_TRIGGER_PATTERN))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text_columns
    )


def to_csv_bytes(frame: pl.DataFrame) -> bytes:
    """The neutralised frame as UTF-8 CSV (with a BOM so spreadsheets pick the encoding)."""
    return ("\ufeff" + neutralise_frame(frame).write_csv()).encode("utf-8")


def export_csv(
    *,
    session: Session,
    actor: str,
    frame: pl.DataFrame,
    practice_slug: str | None,
    object_ref: str,
    now: datetime,
) -> bytes:
    """The CSV of `frame`, with the export recorded in the audit log (ids only)."""
    payload = to_csv_bytes(frame)
    audit.record(
        session=session, actor=actor, action=Action.export, practice_slug=practice_slug,
        object_ref=object_ref, outcome=Outcome.success, now=now,
    )
    session.commit()
    return payload
