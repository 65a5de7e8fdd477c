"""Operational events as Arrow tables with exactly the columns of warehouse/ops_schema.sql."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy import case, select
from sqlmodel import Session, col

from console.models.practice import PracticeSettings
from console.models.types import columns
from console.models.work import ConsentEvent, Lead, LeadEvent, Task, TaskStatus, Touch
from warehouse.rules import PracticeCalendar

TS = pa.timestamp("us", tz="UTC")

SCHEMAS: dict[str, pa.Schema] = {
    "ops_tasks": pa.schema([
        ("task_id", pa.int64()), ("kind", pa.string()), ("practice_slug", pa.string()),
        ("patient_id", pa.string()), ("lead_id", pa.string()), ("treatment_id", pa.string()),
        ("created_at", TS), ("due_at", TS), ("sla_deadline", TS), ("status", pa.string()),
        ("closed_at", TS), ("close_reason", pa.string()),
    ]),
    "ops_touches": pa.schema([
        ("touch_id", pa.int64()), ("task_id", pa.int64()), ("practice_slug", pa.string()),
        ("patient_id", pa.string()), ("lead_id", pa.string()), ("task_kind", pa.string()),
        ("coordinator_id", pa.int64()), ("channel", pa.string()), ("disposition", pa.string()),
        ("minutes", pa.float64()), ("started_at", TS), ("ended_at", TS),
    ]),
    "ops_leads": pa.schema([
        ("practice_slug", pa.string()), ("lead_id", pa.string()),
        ("referrer_patient_id", pa.string()), ("source", pa.string()), ("referred_at", TS),
        ("status", pa.string()), ("status_at", TS), ("booked_value", pa.float64()),
        ("duplicate_of_lead_id", pa.string()), ("matched_patient_id", pa.string()),
    ]),
    "ops_lead_events": pa.schema([
        ("practice_slug", pa.string()), ("lead_id", pa.string()), ("event", pa.string()),
        ("at", TS), ("booked_value", pa.float64()),
    ]),
    "ops_consent_events": pa.schema([
        ("practice_slug", pa.string()), ("subject_type", pa.string()),
        ("subject_id", pa.string()), ("channel", pa.string()), ("granted", pa.bool_()),
        ("source", pa.string()), ("at", TS),
    ]),
    "ops_messages": pa.schema([
        ("message_id", pa.int64()), ("practice_slug", pa.string()), ("patient_id", pa.string()),
        ("lead_id", pa.string()), ("purpose", pa.string()), ("channel", pa.string()),
        ("status", pa.string()), ("created_at", TS), ("sent_at", TS), ("replied_at", TS),
    ]),
}  # fmt: skip


def _table(name: str, rows: Sequence[Any]) -> pa.Table:
    schema = SCHEMAS[name]
    columns: list[Sequence[Any]] = (
        list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    )
    arrays = [
        pa.array(list(values), type=field.type)
        for values, field in zip(columns, schema, strict=True)
    ]
    return pa.Table.from_arrays(
        arrays,
        schema=schema,
    )


def _messages(session: Session) -> Sequence[Any]:
    """Outbox rows (outreach); `sending` is exported as queued, cancelled ones are left out."""
    from console.models.outreach import Message

    status = case((col(Message.status) == "sending", "queued"), else_=col(Message.status))
    return session.execute(
        select(*columns(
            Message.message_id, Message.practice_slug, Message.patient_id, Message.lead_id,
            Message.purpose, Message.channel, status, Message.created_at, Message.sent_at,
            Message.replied_at))
        .where(col(Message.status) != "cancelled")
        .order_by(col(Message.message_id))
    ).all()


def practice_calendars(*, session: Session) -> dict[str, PracticeCalendar]:
    """Each practice's open weekdays and lead / loop SLA lengths, for the build's SLA days."""
    rows = session.execute(select(*columns(
        PracticeSettings.practice_slug, PracticeSettings.business_days,
        PracticeSettings.lead_sla_business_days, PracticeSettings.close_loop_sla_business_days,
    ))).all()
    return {
        slug: PracticeCalendar(business_days=days, lead_sla_business_days=lead,
                               close_loop_sla_business_days=loop)
        for slug, days, lead, loop in rows
    }


def export_operational_events(*, session: Session) -> dict[str, pa.Table]:
    """Every operational event table for the warehouse (ops_messages is filled by outreach)."""
    status = case(
        (col(Task.escalated) & (col(Task.status) == TaskStatus.open), "escalated"),
        else_=col(Task.status),
    )
    tasks = session.execute(
        select(*columns(
                Task.task_id, Task.kind, Task.practice_slug, Task.patient_id, Task.lead_id,
               Task.treatment_id, Task.created_at, Task.due_at, Task.sla_deadline, status,
               Task.closed_at, Task.close_reason)).order_by(col(Task.task_id))
    ).all()
    touches = session.execute(
        select(*columns(
                Touch.touch_id, Touch.task_id, Touch.practice_slug, Touch.patient_id,
               Touch.lead_id, Touch.task_kind, Touch.coordinator_id, Touch.channel,
               Touch.disposition, Touch.minutes, Touch.started_at, Touch.ended_at))
        .order_by(col(Touch.touch_id))
    ).all()
    leads = session.execute(
        select(*columns(
                Lead.practice_slug, Lead.lead_id, Lead.referrer_patient_id, Lead.source,
               Lead.referred_at, Lead.status, Lead.status_at, Lead.booked_value,
               Lead.duplicate_of_lead_id, Lead.matched_patient_id))
    ).all()
    events = session.execute(
        select(*columns(
                LeadEvent.practice_slug, LeadEvent.lead_id, LeadEvent.event, LeadEvent.at,
               LeadEvent.booked_value)).order_by(col(LeadEvent.event_id))
    ).all()
    consent = session.execute(
        select(*columns(
                ConsentEvent.practice_slug, ConsentEvent.subject_type, ConsentEvent.subject_id,
               ConsentEvent.channel, ConsentEvent.granted, ConsentEvent.source, ConsentEvent.at))
        .order_by(col(ConsentEvent.event_id))
    ).all()
    return {
        "ops_tasks": _table("ops_tasks", tasks),
        "ops_touches": _table("ops_touches", touches),
        "ops_leads": _table("ops_leads", leads),
        "ops_lead_events": _table("ops_lead_events", events),
        "ops_consent_events": _table("ops_consent_events", consent),
        "ops_messages": _table("ops_messages", _messages(session)),
    }
