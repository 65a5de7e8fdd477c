"""Operational facts refresh reads from the store, as polars frames (UTC-aware timestamps)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from console.models.types import columns
from console.models.work import ConsentEvent, Lead, LeadEvent, Task, TaskKind, Touch
from console.work.sources import WILLING_DISPOSITIONS, OpsFacts


def as_utc_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every datetime column as UTC-aware (naive snapshot timestamps are UTC)."""
    fixes = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime):
            expr = pl.col(name).dt.cast_time_unit("us")
            fixes.append(
                expr.dt.replace_time_zone("UTC") if dtype.time_zone is None
                else expr.dt.convert_time_zone("UTC")
            )
    return frame.with_columns(fixes) if fixes else frame


def _frame(rows: Sequence[Any], schema: dict[str, Any]) -> pl.DataFrame:
    return as_utc_frame(pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row"))


def load_facts(*, session: Session, now: datetime) -> OpsFacts:
    """Read the operational facts refresh needs from the store into frames."""
    touches = _frame(
        session.execute(
            select_columns(*columns(
                Touch.practice_slug, Touch.subject_type, Touch.subject_id, Touch.disposition,
                   Touch.started_at, Touch.treatment_id))
            .where(col(Touch.disposition).is_not(None))
            .where(col(Touch.started_at) >= now - timedelta(days=366))
        ).all(),
        {"practice_slug": pl.String, "subject_type": pl.String, "subject_id": pl.String,
         "disposition": pl.String, "started_at": pl.Datetime("us", "UTC"),
         "treatment_id": pl.String},
    )
    consent = _frame(
        session.execute(
            select_columns(*columns(
                ConsentEvent.practice_slug, ConsentEvent.subject_type, ConsentEvent.subject_id,
                   ConsentEvent.channel, ConsentEvent.granted, ConsentEvent.at,
                   ConsentEvent.event_id))
        ).all(),
        {"practice_slug": pl.String, "subject_type": pl.String, "subject_id": pl.String,
         "channel": pl.String, "granted": pl.Boolean, "at": pl.Datetime("us", "UTC"),
         "event_id": pl.Int64},
    )
    revoked = (
        consent.sort("at", "event_id")
        .group_by("practice_slug", "subject_type", "subject_id", "channel")
        .agg(pl.col("granted").last())
        .filter(~pl.col("granted"))
        .drop("granted")
    )
    leads = _frame(
        session.execute(
            select_columns(*columns(
                Lead.practice_slug, Lead.lead_id, Lead.referrer_patient_id, Lead.phone,
                   Lead.referred_at, Lead.status, Lead.status_at))
            # A lead de-duplicated onto another gets no task of its own (create_lead).
            .where(col(Lead.duplicate_of_lead_id).is_(None))
        ).all(),
        {"practice_slug": pl.String, "lead_id": pl.String, "referrer_patient_id": pl.String,
         "lead_phone": pl.String, "referred_at": pl.Datetime("us", "UTC"),
         "status": pl.String, "status_at": pl.Datetime("us", "UTC")},
    ).with_columns(
        first_reached_at=pl.lit(None, dtype=pl.Datetime("us", "UTC")),
        loop_closed_at=pl.lit(None, dtype=pl.Datetime("us", "UTC")),
    )
    lead_events = _frame(
        session.execute(
            select_columns(*columns(
                LeadEvent.practice_slug, LeadEvent.lead_id, LeadEvent.event, LeadEvent.at,
                   LeadEvent.event_id))
        ).all(),
        {"practice_slug": pl.String, "lead_id": pl.String, "event": pl.String,
         "at": pl.Datetime("us", "UTC"), "event_id": pl.Int64},
    )
    reviews = _frame(
        session.exec(
            select(Task.practice_slug, Task.patient_id, Task.treatment_id, Task.created_at)
            .where(Task.kind == TaskKind.review_request)
        ).all(),
        {"practice_slug": pl.String, "patient_id": pl.String, "treatment_id": pl.String,
         "created_at": pl.Datetime("us", "UTC")},
    )
    willing = _frame(
        session.exec(
            select(Task.practice_slug, Task.patient_id, Task.treatment_id, Task.decay_from)
            .join(Touch, col(Touch.task_id) == col(Task.task_id))
            .where(col(Touch.disposition).in_(WILLING_DISPOSITIONS))
            .where(col(Task.treatment_id).is_not(None))
        ).all(),
        {"practice_slug": pl.String, "patient_id": pl.String, "treatment_id": pl.String,
         "results_visible_at": pl.Datetime("us", "UTC")},
    )
    return OpsFacts(touches=touches, revoked=revoked, leads=leads, lead_events=lead_events,
                    reviews=reviews, willing=willing)
