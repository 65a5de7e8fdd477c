"""One task at a time: create a scored task, or rescore one after an attempt (no polars).

Refresh scores thousands of candidates with the vectorised expressions of
`console.scoring.priority`; a disposition or a captured lead creates or rescores one task, with
the scalar twins of the same formulas (`value_one`, `p_success_one`, `rank_key_one`), so
`loopdesk log` and the referral form never import polars. `tests/console/work/test_task_rows.py`
checks that both give the same scores.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from console.models.practice import PracticeSettings
from console.models.work import Task
from console.scoring.learned import Learned as Learned  # (automation reads it through here)
from console.scoring.priority import (
    DEFAULT_CASE_VALUE,
    DEFAULT_LEAD_CONVERSION,
    DEFAULT_MINUTES,
    DEFAULT_P_REFER,
    p_success_one,
    rank_key_one,
    value_one,
)

TASK_COLUMNS = (
    "natural_key", "kind", "practice_slug", "subject_type", "subject_id", "patient_id",
    "lead_id", "treatment_id", "referrer_patient_id", "category", "case_value",
    "satisfaction_score", "consent_call", "do_not_contact", "due_at", "sla_deadline", "decay_from",
)  # fmt: skip


def _or(value: float | None, default: float) -> float:
    return default if value is None else float(value)


def score_fields(fields: dict[str, Any], practice: PracticeSettings, *,
                 value: float | None = None,
                 expected_minutes: float | None = None,
                 learned: Learned | None = None) -> dict[str, Any]:
    """TASK_COLUMNS plus practice_tz, attempt, value, p_success, expected_minutes, rank_key,
    exactly as refresh's `score_frame` computes them for a practice without measured minutes
    (with `learned`, what the queue learned scales them as refresh's `with_learned` does)."""
    rates = learned or Learned()
    row = {name: fields.get(name) for name in TASK_COLUMNS}
    kind = str(row["kind"])
    attempt = int(fields.get("attempt", 1) or 1)
    avg_case_value = _or(practice.avg_case_value, DEFAULT_CASE_VALUE)
    case_value = _or(row["case_value"], avg_case_value)
    satisfaction = row["satisfaction_score"]
    minutes = expected_minutes if expected_minutes is not None \
        else max(DEFAULT_MINUTES[kind], 1.0)
    scored_value = value if value is not None else value_one(
        kind=kind, case_value=case_value,
        lead_conversion=_or(practice.lead_conversion, DEFAULT_LEAD_CONVERSION),
        p_refer_given_asked=_or(practice.p_refer_given_asked, DEFAULT_P_REFER),
    ) * rates.value_factor_one(kind)
    score = None if satisfaction is None else float(satisfaction)
    p_success = p_success_one(
        kind=kind, attempt=attempt, subject_type=str(row["subject_type"]),
        satisfaction_score=score,
    ) * rates.p_factor_one(kind=kind, attempt=attempt, satisfaction_score=score,
                           category=row["category"])
    return row | {
        "case_value": case_value,
        "satisfaction_score": None if satisfaction is None else float(satisfaction),
        "practice_tz": practice.timezone,
        "attempt": attempt,
        "value": scored_value,
        "p_success": p_success,
        "expected_minutes": minutes,
        "rank_key": rank_key_one(kind=kind, value=scored_value, p_success=p_success,
                                 expected_minutes=minutes, decay_from=fields["decay_from"]),
    }


def add_task(
    *, session: Session, fields: dict[str, Any], practice: PracticeSettings, now: datetime,
    expected_minutes: float | None = None, value: float | None = None,
    learned: Learned | None = None,
) -> Task:
    """Create one task (scored like refresh does) unless its natural key exists; flushes.

    `fields` holds TASK_COLUMNS (plus optional attempt, source_task_id, referrer_patient_id);
    `value` / `expected_minutes` carry a parent's figures over to a follow-up. `learned`:
    the store's learned rates when the caller already read them (`Learned.load`) for many
    tasks in one pass; read here otherwise.
    """
    found = session.exec(
        select(Task).where(Task.natural_key == fields["natural_key"])
    ).first()
    if found is not None:
        return found
    task = Task(
        **score_fields(fields, practice, value=value, expected_minutes=expected_minutes,
                       learned=learned if learned is not None else Learned.load(session)),
        source_task_id=fields.get("source_task_id"),
        created_at=now,
    )
    session.add(task)
    session.flush()
    return task


def rescore(task: Task, learned: Learned | None = None) -> None:
    """Recompute a task's P(success) and rank key after its attempt count changed."""
    task.p_success = p_success_one(kind=task.kind, attempt=task.attempt,
                                   subject_type=task.subject_type,
                                   satisfaction_score=task.satisfaction_score) * (
        (learned or Learned()).p_factor_one(kind=task.kind, attempt=task.attempt,
                                            satisfaction_score=task.satisfaction_score,
                                            category=task.category))
    task.rank_key = rank_key_one(kind=task.kind, value=task.value, p_success=task.p_success,
                                 expected_minutes=task.expected_minutes,
                                 decay_from=task.decay_from)
