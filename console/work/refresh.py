"""Task refresh: upsert every task kind by natural key from a warehouse snapshot (bulk, idempotent).

A rebuild never duplicates a task (unique natural key), never resurrects a closed one (keys of
closed tasks are kept and skipped), and cancels open tasks whose reason disappeared.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import polars as pl
from sqlalchemy import bindparam, insert, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from console.models.practice import PracticeSettings
from console.models.types import columns
from console.models.work import Task, TaskKind, TaskStatus
from console.platform.db import begin_write
from console.scoring.learned import Learned
from console.scoring.learning import read_mart, store, with_learned
from console.scoring.priority import (
    DEFAULT_CASE_VALUE,
    DEFAULT_LEAD_CONVERSION,
    DEFAULT_MINUTES,
    DEFAULT_P_REFER,
    p_success_expr,
    rank_key_expr,
    with_scores,
)
from console.work.facts import as_utc_frame, load_facts
from console.work.rows import add_task as add_task  # one task at a time, no polars
from console.work.rows import rescore as rescore
from console.work.sources import (
    HISTORY_WINDOWS,
    TASK_COLUMNS,
    HistoryWindows,
    ask_candidates,
    blocked_subjects,
    close_loop_candidates,
    contact_lead_candidates,
    effective_leads,
    effective_patients,
    review_candidates,
    within_windows,
)
from loopdesk_core.business_hours import add_business_days

INSERT_BATCH = 5_000
# Kinds whose existence refresh decides; follow-ups come from dispositions.
REFRESHED_KINDS = (TaskKind.ask, TaskKind.contact_lead, TaskKind.close_loop,
                   TaskKind.review_request)
ACTIVE = (TaskStatus.open, TaskStatus.claimed)
# Kinds worked one at a time per person: a second treatment waits for the first ask.
ONE_PER_PERSON_KINDS = (TaskKind.ask, TaskKind.review_request)
MINUTES_COLUMNS = {
    TaskKind.ask: "median_minutes_ask",
    TaskKind.follow_up: "median_minutes_follow_up",
    TaskKind.review_request: "median_minutes_follow_up",
    TaskKind.contact_lead: "median_minutes_contact_lead",
    TaskKind.close_loop: "median_minutes_close_loop",
}


@dataclass(frozen=True)
class RefreshResult:
    """What a refresh did: tasks created and closed, and how many are open afterwards."""

    created: int
    closed: int
    open: int


def _mart(snapshot: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    return as_utc_frame(snapshot.sql(f"select * from {name}").pl())


def sync_practices(*, session: Session, practices: pl.DataFrame) -> dict[str, PracticeSettings]:
    """Seed new practices from mart_practices and update export-owned fields of known ones."""
    known = {p.practice_slug: p for p in session.exec(select(PracticeSettings)).all()}
    for row in practices.iter_rows(named=True):
        onboarded = row["onboarded_at"]
        if isinstance(onboarded, datetime):
            onboarded = onboarded.astimezone(UTC)
        practice = known.get(row["practice_slug"]) or PracticeSettings(
            practice_slug=row["practice_slug"], name="", specialty="", timezone="UTC"
        )
        practice.name = row["name"]
        practice.specialty = row["specialty"]
        practice.timezone = row["timezone"]
        if row["contracted_hours_per_week"] is not None:
            practice.contracted_hours_per_week = float(row["contracted_hours_per_week"])
        practice.onboarded_at = onboarded
        # A fee in practices.csv is export-owned like the contract; a blank keeps the manager's.
        if row.get("monthly_fee") is not None:
            practice.monthly_fee = float(row["monthly_fee"])
        session.add(practice)
        known[practice.practice_slug] = practice
    session.flush()
    return known


# Kinds whose SLA is N business days from the trigger, and the practice setting giving N.
BUSINESS_SLA_DAYS = {
    TaskKind.contact_lead: "lead_sla_business_days",
    TaskKind.close_loop: "close_loop_sla_business_days",
}


def _with_business_slas(frame: pl.DataFrame,
                        practices: dict[str, PracticeSettings]) -> pl.DataFrame:
    """Replace lead-driven kinds' `sla_deadline` with start + N business days (practice hours).

    Business-day arithmetic needs each practice's zone and opening days, so it runs per row;
    it runs only on the lead-driven rows being opened, which are few next to ask candidates.
    """
    lead_driven = pl.col("kind").is_in(list(BUSINESS_SLA_DAYS))
    rows = frame.filter(lead_driven)
    deadlines = [
        add_business_days(start, getattr(practices[slug], BUSINESS_SLA_DAYS[kind]),
                          practices[slug])
        for kind, slug, start in zip(rows["kind"], rows["practice_slug"], rows["sla_deadline"],
                                     strict=True)
    ]
    return pl.concat(
        [frame.filter(~lead_driven),
         rows.with_columns(pl.Series("sla_deadline", deadlines, dtype=pl.Datetime("us", "UTC")))],
        how="vertical_relaxed",
    )


def _rates(rates: pl.DataFrame) -> pl.DataFrame:
    minutes = [
        pl.col(column).cast(pl.Float64).alias(f"minutes_{kind}")
        for kind, column in MINUTES_COLUMNS.items()
    ]
    return rates.select(
        "practice_slug",
        pl.col("avg_case_value").cast(pl.Float64).fill_null(DEFAULT_CASE_VALUE),
        pl.col("lead_conversion").cast(pl.Float64).fill_null(DEFAULT_LEAD_CONVERSION),
        pl.col("p_refer_given_asked").cast(pl.Float64).fill_null(DEFAULT_P_REFER),
        *minutes,
    )


def score_frame(frame: pl.DataFrame, rates: pl.DataFrame,
                practices: dict[str, PracticeSettings],
                learned: Learned | None = None) -> pl.DataFrame:
    """Add practice zone, rates, expected minutes and scores to candidate task rows.

    `learned` (default: nothing learned) scales P(success) and value (console/scoring/learning.py).
    """
    zones = pl.DataFrame(
        {"practice_slug": list(practices), "practice_tz": [p.timezone for p in practices.values()]},
        schema={"practice_slug": pl.String, "practice_tz": pl.String},
    )
    minutes = pl.coalesce(
        *[
            pl.when(pl.col("kind") == kind).then(pl.col(f"minutes_{kind}"))
            for kind in MINUTES_COLUMNS
        ],
    )
    default_minutes = pl.col("kind").replace_strict(DEFAULT_MINUTES, return_dtype=pl.Float64)
    if "attempt" not in frame.columns:
        frame = frame.with_columns(attempt=pl.lit(1))
    return (
        frame.join(zones, on="practice_slug", how="inner")
        .join(rates, on="practice_slug", how="left")
        .with_columns(
            pl.col("avg_case_value").fill_null(DEFAULT_CASE_VALUE),
            pl.col("lead_conversion").fill_null(DEFAULT_LEAD_CONVERSION),
            pl.col("p_refer_given_asked").fill_null(DEFAULT_P_REFER),
            expected_minutes=pl.coalesce(minutes, default_minutes).clip(1.0),
        )
        .with_columns(pl.col("case_value").fill_null(pl.col("avg_case_value")))
        .pipe(with_learned, learned or Learned())
        .pipe(with_scores)
    )


def _existing(session: Session) -> pl.DataFrame:
    return pl.DataFrame(
        [tuple(r) for r in session.execute(
            select_columns(*columns(
                Task.task_id, Task.natural_key, Task.kind, Task.status, Task.practice_slug,
                   Task.subject_type, Task.subject_id, Task.patient_id))
        ).all()],
        schema={"task_id": pl.Int64, "natural_key": pl.String, "kind": pl.String,
                "status": pl.String, "practice_slug": pl.String, "subject_type": pl.String,
                "subject_id": pl.String, "patient_id": pl.String},
        orient="row",
    )


def _insert(session: Session, frame: pl.DataFrame, now: datetime) -> int:
    """Insert new open tasks in natural-key order, so the ids they get (the queue's last
    tie-break) do not depend on the order the frame's joins happened to produce."""
    rows = frame.sort("natural_key").select(
        *TASK_COLUMNS, "practice_tz", "attempt", "value", "p_success", "expected_minutes",
        "rank_key",
    ).with_columns(
        created_at=pl.lit(now).dt.cast_time_unit("us"), status=pl.lit(TaskStatus.open),
        escalated=pl.lit(False), claim_version=pl.lit(0), claim_count=pl.lit(0),
    )  # fmt: skip
    for start in range(0, rows.height, INSERT_BATCH):
        session.execute(insert(Task), rows.slice(start, INSERT_BATCH).to_dicts())
    return rows.height


def close_tasks(*, session: Session, task_ids: Iterable[int], reason: str, now: datetime) -> int:
    """Cancel the given open or claimed tasks with a reason (bulk)."""
    ids = list(task_ids)
    closed = 0
    for start in range(0, len(ids), INSERT_BATCH):
        result = session.execute(
            update(Task)
            .execution_options(synchronize_session=False)
            .where(col(Task.task_id).in_(ids[start : start + INSERT_BATCH]))
            .where(col(Task.status).in_(ACTIVE))
            .values(status=TaskStatus.cancelled, closed_at=now, close_reason=reason,
                    claimed_by=None, lease_expires_at=None)
        )
        closed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return closed


def one_per_person(candidates: pl.DataFrame) -> pl.DataFrame:
    """The best candidate of each kind per person: the highest case value, then the latest
    trigger (the freshest moment to ask), then the natural key.

    The order is total, so the choice never depends on the order the frame's joins produced
    (a review's case value is its practice's average, equal for all of a patient's
    treatments: sorting on it alone picked one of them by the row order of the moment)."""
    return candidates.sort(
        ["case_value", "due_at", "natural_key"], descending=[True, True, False],
        nulls_last=True,
    ).unique(subset=["kind", "practice_slug", "subject_id"], keep="first", maintain_order=True)


def refresh_tasks(
    *, session: Session, snapshot: duckdb.DuckDBPyConnection, now: datetime,
    windows: HistoryWindows = HISTORY_WINDOWS,
) -> RefreshResult:
    """Bring the task table in line with the snapshot and the operational facts; commits.

    Lead-driven tasks are opened only for triggers inside `windows` (see HistoryWindows).
    """
    begin_write(session)
    practices = sync_practices(session=session, practices=_mart(snapshot, "mart_practices"))
    facts = load_facts(session=session, now=now)
    rates = _rates(_mart(snapshot, "mart_practice_rates"))
    for row in rates.iter_rows(named=True):
        practice = practices.get(row["practice_slug"])
        if practice is not None:
            practice.avg_case_value = row["avg_case_value"]
            practice.lead_conversion = row["lead_conversion"]
            practice.p_refer_given_asked = row["p_refer_given_asked"]
            session.add(practice)
    session.flush()
    mart_learned = read_mart(snapshot)
    before = Learned.load(session)
    if mart_learned is not None:
        store(session=session, rates=mart_learned, now=now)
    learned = Learned.from_frame(mart_learned) if mart_learned is not None else before
    case_values = rates.select("practice_slug", "avg_case_value")
    patients = effective_patients(_mart(snapshot, "mart_patients"), facts.revoked)
    leads = effective_leads(mart_leads=_mart(snapshot, "mart_leads"), facts=facts)
    ask_source = _mart(snapshot, "mart_ask_candidates")
    wanted = pl.concat(
        [
            ask_candidates(candidates=ask_source, patients=patients, facts=facts, now=now),
            contact_lead_candidates(leads=leads, facts=facts, case_values=case_values),
            close_loop_candidates(leads=leads, patients=patients, case_values=case_values),
            review_candidates(candidates=_mart(snapshot, "mart_review_candidates"),
                              patients=patients, facts=facts, case_values=case_values, now=now),
        ],
        how="vertical_relaxed",
    ).filter(pl.col("practice_slug").is_in(list(practices)))

    existing = _existing(session)
    active = existing.filter(pl.col("status").is_in(list(ACTIVE)))
    # One open ask or review per person at a time.
    busy = active.filter(pl.col("kind").is_in(ONE_PER_PERSON_KINDS)).select(
        "kind", "practice_slug", "subject_id"
    ).unique()
    # Old history opens nothing; what is still wanted but out of its window stays open below.
    unseen = (
        within_windows(wanted, now=now, windows=windows)
        .join(existing.select("natural_key"), on="natural_key", how="anti")
        .join(busy, on=["kind", "practice_slug", "subject_id"], how="anti")
    )
    one_at_a_time = pl.col("kind").is_in(ONE_PER_PERSON_KINDS)
    # Leads and loops are one task per lead; asks and reviews one per person (the best first),
    # decided in the same refresh so that a rebuild never adds what this one held back.
    fresh = pl.concat(
        [one_per_person(unseen.filter(one_at_a_time)), unseen.filter(~one_at_a_time)],
        how="vertical_relaxed",
    ).pipe(_with_business_slas, practices)
    blocked = blocked_subjects(patients)
    gone = active.filter(pl.col("kind").is_in(REFRESHED_KINDS)).join(
        wanted.select("natural_key"), on="natural_key", how="anti"
    )
    not_contactable = active.join(blocked, on=["practice_slug", "subject_type", "subject_id"],
                                  how="semi")
    closed = close_tasks(session=session, task_ids=not_contactable["task_id"],
                         reason="not_contactable", now=now)
    closed += close_tasks(session=session, task_ids=gone["task_id"], reason="reason_gone",
                          now=now)
    created = _insert(session, score_frame(fresh, rates, practices, learned), now)
    if not learned.close_to(before):
        rescore_open(session=session, learned=learned)
    session.commit()
    open_count = active.height - closed + created
    return RefreshResult(created=created, closed=closed, open=open_count)


def _practice_rates(practice: PracticeSettings) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "practice_slug": [practice.practice_slug],
            "avg_case_value": [practice.avg_case_value],
            "lead_conversion": [practice.lead_conversion],
            "p_refer_given_asked": [practice.p_refer_given_asked],
            **{f"minutes_{kind}": [None] for kind in MINUTES_COLUMNS},
        },
        schema_overrides={f"minutes_{kind}": pl.Float64 for kind in MINUTES_COLUMNS}
        | {"avg_case_value": pl.Float64, "lead_conversion": pl.Float64,
           "p_refer_given_asked": pl.Float64},
    )


def add_task_vectorised(
    *, fields: dict[str, Any], practice: PracticeSettings,
    expected_minutes: float | None = None, value: float | None = None,
    learned: Learned | None = None,
) -> dict[str, Any]:
    """The scores `score_frame` gives one task's fields (what `add_task` matches; for tests)."""
    row = {name: fields.get(name) for name in TASK_COLUMNS} | {
        "attempt": fields.get("attempt", 1)
    }
    frame = score_frame(
        pl.DataFrame([row], schema_overrides={"satisfaction_score": pl.Float64,
                                              "case_value": pl.Float64}),
        _practice_rates(practice),
        {practice.practice_slug: practice},
        learned,
    )
    if value is not None:
        frame = frame.with_columns(value=pl.lit(value))
    if expected_minutes is not None:
        frame = frame.with_columns(expected_minutes=pl.lit(expected_minutes))
    scored: dict[str, Any] = frame.with_columns(rank_key=rank_key_expr()).row(0, named=True)
    return scored


def p_success_vectorised(task: Task) -> float:
    """`p_success_expr` on one task (the scalar `rescore` must agree; for tests)."""
    frame = pl.DataFrame(
        [{"kind": task.kind, "attempt": task.attempt, "subject_type": task.subject_type,
          "satisfaction_score": task.satisfaction_score}],
        schema_overrides={"satisfaction_score": pl.Float64},
    ).with_columns(p_success=p_success_expr())
    return float(frame["p_success"][0])


# Open tasks are re-scored on refresh when what was learned moves their rank key this much.
RESCORE_TOLERANCE = 0.01
_OPEN_SCORING = (
    "task_id", "kind", "practice_slug", "subject_type", "attempt", "category", "case_value",
    "satisfaction_score", "decay_from", "expected_minutes", "rank_key",
)


def rescore_open(*, session: Session, learned: Learned) -> int:
    """Re-score open tasks whose rank key the learned rates moved (vectorised); flushes.

    P(success) and value are recomputed from the task's own fields, its practice's rates
    and `learned`; only rows whose rank key moves by more than RESCORE_TOLERANCE (in log
    terms) are written, so a build that learned little writes little. Follow-ups keep the
    value their parent carried over (only their P(success) is re-learned).
    """
    table = Task.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        select_columns(*[table.c[name] for name in _OPEN_SCORING], table.c.value,
                       *columns(PracticeSettings.avg_case_value,
                                PracticeSettings.lead_conversion,
                                PracticeSettings.p_refer_given_asked))
        .join_from(table, PracticeSettings.__table__,  # type: ignore[attr-defined]
                   table.c.practice_slug == PracticeSettings.practice_slug)
        .where(table.c.status == TaskStatus.open)
    ).all()
    if not rows:
        return 0
    names = [*_OPEN_SCORING, "old_value", "avg_case_value", "lead_conversion",
             "p_refer_given_asked"]
    frame = pl.DataFrame([tuple(row) for row in rows], schema=names, orient="row",
                         infer_schema_length=None)
    frame = frame.with_columns(
        pl.col("satisfaction_score").cast(pl.Float64),
        pl.col("case_value").cast(pl.Float64),
        pl.col("decay_from").dt.replace_time_zone(None).dt.replace_time_zone("UTC")
        if frame.schema["decay_from"] == pl.Datetime("us") else pl.col("decay_from"),
        pl.col("avg_case_value").cast(pl.Float64).fill_null(DEFAULT_CASE_VALUE),
        pl.col("lead_conversion").cast(pl.Float64).fill_null(DEFAULT_LEAD_CONVERSION),
        pl.col("p_refer_given_asked").cast(pl.Float64).fill_null(DEFAULT_P_REFER),
    ).rename({"rank_key": "old_rank_key"})
    scored = with_scores(with_learned(frame, learned))
    follow_up = pl.col("kind") == TaskKind.follow_up
    scored = scored.with_columns(
        value=pl.when(follow_up).then(pl.col("old_value")).otherwise(pl.col("value")),
    ).with_columns(rank_key=rank_key_expr())
    changed = scored.filter(
        (pl.col("rank_key") - pl.col("old_rank_key")).abs() > RESCORE_TOLERANCE
    ).select(pl.col("task_id").alias("b_id"), pl.col("value").alias("b_value"),
             pl.col("p_success").alias("b_p"), pl.col("rank_key").alias("b_rank"))
    if changed.is_empty():
        return 0
    statement = (
        update(table).execution_options(synchronize_session=False)
        .where(table.c.task_id == bindparam("b_id"))
        .values(value=bindparam("b_value"), p_success=bindparam("b_p"),
                rank_key=bindparam("b_rank"))
    )
    for start in range(0, changed.height, INSERT_BATCH):
        session.execute(statement, changed.slice(start, INSERT_BATCH).to_dicts())
    return changed.height
