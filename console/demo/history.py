"""The demo's agency history: what coordinators did for each practice since its onboarding.

`simulate_agency_history` writes, in bulk, the tasks, calls, lead events and logged minutes
a team would have produced from each practice's `onboarded_at` up to `now`, for the work
triggered until two days before `now` (the rest is the live queue's): asks (with follow-ups
and review requests), first contact of referred leads, and loop closures, with the natural
keys refresh and the disposition flow use, so a later refresh treats them as existing work
and never re-creates them. Calls run 2–12 minutes; the rest of each week's contracted time is
logged as `admin` blocks (channel "admin", no person: call preparation, referral links,
practice liaison) so hours delivered track the contract, this week's included.
Coordinators are the store's active coordinator users plus team members it creates
(`coordinator.teamNN@demo.loopdesk.test`, random passwords nobody is given).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import polars as pl
from sqlalchemy import insert, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from console.demo.plan import (
    ADMIN_BLOCK_MINUTES,
    MINUTE_US,
    _ts,
    ask_tasks,
    lead_tasks,
    plan_asks,
    plan_leads,
    plan_loops,
)
from console.identity import passwords
from console.models.identity import Role, User, UserPractice
from console.models.practice import PracticeSettings
from console.models.types import columns
from console.models.work import LeadEvent, Task, TaskKind, TaskStatus, Touch
from console.platform.db import begin_write
from console.work.refresh import TASK_COLUMNS, add_task

QUIET_DAYS = 2  # work triggered in the last days is left open: the live queue's fresh work
HOURS_PER_COORDINATOR = 32.0
TEAM_DOMAIN = "demo.loopdesk.test"
INSERT_BATCH = 5_000
ACTIVE = (TaskStatus.open, TaskStatus.claimed)


@dataclass(frozen=True)
class HistorySummary:
    """What the simulation wrote (all zero and `skipped` when history already existed)."""

    practices: int
    tasks: int
    touches: int
    lead_events: int
    coordinators: int
    hours: float
    skipped: bool

    def to_json(self) -> dict[str, Any]:
        """The summary as plain JSON values."""
        return asdict(self)


def history_exists(session: Session, *, before: datetime) -> bool:
    """Whether coordinators already logged work before `before` (then nothing is simulated)."""
    found = session.execute(
        select_columns(*columns(Touch.touch_id))
        .where(col(Touch.coordinator_id).is_not(None))
        .where(col(Touch.started_at) < before)
        .limit(1)
    ).first()
    return found is not None


def _utc(frame: pl.DataFrame) -> pl.DataFrame:
    fixes = [
        pl.col(name).dt.cast_time_unit("us").dt.convert_time_zone("UTC")
        for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime)
    ]
    return frame.with_columns(fixes) if fixes else frame


def _read(snapshot: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return _utc(snapshot.sql(sql).pl())


def _team(session: Session, practices: Sequence[PracticeSettings],
          now: datetime) -> dict[str, list[int]]:
    """Per practice, the two or three coordinators who work it (creating team members if short)."""
    from console.identity.users import add_user

    hours = sum(p.contracted_hours_per_week for p in practices)
    wanted = max(1, math.ceil(hours / HOURS_PER_COORDINATOR))
    coordinators = session.exec(
        select(User).where(User.role == Role.coordinator).where(col(User.active))
        .order_by(col(User.user_id))
    ).all()
    slugs = sorted(p.practice_slug for p in practices)
    for number in range(len(coordinators) + 1, wanted + 1):
        add_user(session=session, email=f"coordinator.team{number:02d}@{TEAM_DOMAIN}",
                 role=Role.coordinator, password=passwords.generate_password(),
                 practice_slugs=slugs, actor="system:demo", now=now)
    users = session.exec(
        select(User.user_id).where(User.role == Role.coordinator).where(col(User.active))
        .order_by(col(User.user_id))
    ).all()
    grants = session.exec(select(UserPractice.user_id, UserPractice.practice_slug)).all()
    access: dict[str, list[int]] = {slug: [] for slug in slugs}
    for user_id, slug in grants:
        if slug in access and user_id in users:
            access[slug].append(user_id)
    team: dict[str, list[int]] = {}
    for index, slug in enumerate(slugs):
        allowed = sorted(access[slug]) or [u for u in users if u is not None]
        start = (2 * index) % len(allowed)
        team[slug] = [allowed[(start + k) % len(allowed)] for k in range(min(2, len(allowed)))]
    return team


def _admin_blocks(practice: PracticeSettings, calls: pl.DataFrame, *, until: datetime,
                  rng: np.random.Generator) -> pl.DataFrame:
    """Non-call time per week: contracted hours × 0.8–1.1 less the week's call minutes."""
    from console.demo.hours import _minutes  # the same clock parsing as the snapping

    onboarded = practice.onboarded_at
    assert onboarded is not None
    tz = practice.timezone
    opens = _minutes(practice.business_hours_start)
    closes = _minutes(practice.business_hours_end)
    open_days = [int(day) for day in practice.business_days]
    first, last = onboarded.astimezone(until.tzinfo), until
    days = pl.DataFrame({"day": pl.date_range(first.date(), last.date(), eager=True)}).filter(
        pl.col("day").dt.weekday().is_in(open_days)
    )
    weeks = (days.group_by(pl.col("day").dt.truncate("1w").alias("week"), maintain_order=True)
             .agg("day").sort("week"))
    logged = calls.group_by(
        pl.col("started_at").dt.convert_time_zone(tz).dt.date().dt.truncate("1w").alias("week")
    ).agg(pl.col("minutes").sum().alias("calls"))
    factor = rng.uniform(0.8, 1.1, weeks.height)
    weeks = (
        weeks.join(logged, on="week", how="left", maintain_order="left")
        .with_columns(
            target=practice.contracted_hours_per_week * 60.0 * pl.Series(factor)
            * pl.col("day").list.len() / len(open_days)
        )
        .with_columns(rest=(pl.col("target") - pl.col("calls").fill_null(0.0)).clip(0.0))
        .with_columns(blocks=(pl.col("rest") / ADMIN_BLOCK_MINUTES).ceil().cast(pl.Int64))
        .filter(pl.col("blocks") > 0)
        .with_columns(minutes=(pl.col("rest") / pl.col("blocks")).round(1),
                      block=pl.int_ranges(pl.col("blocks")))
        .explode("block")
    )
    size = weeks.height
    room = (closes - opens) - weeks["minutes"].to_numpy()
    offset = opens + rng.random(size) * np.clip(room, 0, None)
    pick = (rng.random(size) * weeks["day"].list.len().to_numpy()).astype(np.int64)
    local = (
        weeks.with_columns(pick=pl.Series(pick), offset=pl.Series(offset))
        .with_columns(day=pl.col("day").list.get(pl.col("pick")))
        .with_columns(
            started_at=(pl.col("day").cast(pl.Datetime("us"))
                        + pl.duration(microseconds=(pl.col("offset") * MINUTE_US).cast(pl.Int64)))
            .dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone("UTC")
        )
    )
    return local.select(
        pl.lit(None, dtype=pl.String).alias("task_key"),
        pl.lit(None, dtype=pl.String).alias("task_kind"),
        pl.lit("practice").alias("subject_type"),
        pl.lit(practice.practice_slug).alias("subject_id"),
        pl.lit(None, dtype=pl.String).alias("patient_id"),
        pl.lit(None, dtype=pl.String).alias("lead_id"),
        pl.lit(None, dtype=pl.String).alias("treatment_id"),
        pl.lit(None, dtype=pl.String).alias("disposition"),
        "minutes", "started_at",
        (pl.col("started_at")
         + pl.duration(microseconds=(pl.col("minutes") * MINUTE_US).cast(pl.Int64)))
        .alias("ended_at"),
    ).filter((pl.col("started_at") >= _ts(onboarded))
             & (pl.col("ended_at") < _ts(until)))


def _call_rows(attempts: pl.DataFrame, *, kind: str) -> pl.DataFrame:
    """Touch rows for ask or lead attempts; follow-up touches are keyed after insertion."""
    if kind == TaskKind.ask:
        return attempts.select(
            pl.lit(None, dtype=pl.String).alias("task_key"),
            pl.when(pl.col("attempt") == 1).then(pl.lit(TaskKind.ask))
            .otherwise(pl.lit(TaskKind.follow_up))
            .alias("task_kind"),
            pl.lit("patient").alias("subject_type"), pl.col("patient_id").alias("subject_id"),
            "patient_id", pl.lit(None, dtype=pl.String).alias("lead_id"), "treatment_id",
            "disposition", "minutes", "started_at", "ended_at", "attempt",
        )
    return attempts.select(
        pl.lit(None, dtype=pl.String).alias("task_key"),
        pl.lit(TaskKind.contact_lead).alias("task_kind"),
        pl.lit("lead").alias("subject_type"), pl.col("lead_id").alias("subject_id"),
        pl.lit(None, dtype=pl.String).alias("patient_id"), "lead_id",
        pl.lit(None, dtype=pl.String).alias("treatment_id"),
        "disposition", "minutes", "started_at", "ended_at", "attempt",
    )


@dataclass
class _Marts:
    """The marts the simulation reads, as frames."""

    treatments: pl.DataFrame
    patients: pl.DataFrame
    leads: pl.DataFrame


def _marts(snapshot: duckdb.DuckDBPyConnection) -> _Marts:
    return _Marts(
        treatments=_read(snapshot, """
            select practice_slug, treatment_id, patient_id, category, value, results_visible_at
            from mart_treatments where results_visible_at is not null"""),
        patients=_read(snapshot, """
            select practice_slug, patient_id from mart_patients
            where coalesce(consent_call, false) and not coalesce(do_not_contact, false)
                and not coalesce(opted_out, false) and coalesce(phone_usable, false)"""),
        leads=_read(snapshot, """
            select practice_slug, lead_id, referrer_patient_id, lead_phone is not null as has_phone,
                referred_at, status, status_at, booked_value
            from mart_leads"""),
    )


def _plan_practice(practice: PracticeSettings, marts: _Marts, team: list[int], *,
                   cutoff: datetime, until: datetime,
                   seed: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Tasks, touches (with coordinators) and lead events for one practice: the work triggered
    before `cutoff`, as far as it was done before `until`."""
    rng = np.random.default_rng([seed, zlib.crc32(practice.practice_slug.encode())])
    slug = pl.col("practice_slug") == practice.practice_slug
    treatments = marts.treatments.filter(slug)
    callable_ids = marts.patients.filter(slug).select("patient_id")
    leads = marts.leads.filter(slug)
    asks = plan_asks(practice=practice, treatments=treatments, callable_ids=callable_ids,
                     leads=leads, cutoff=cutoff, until=until, rng=rng)
    contacts = plan_leads(practice=practice, leads=leads, cutoff=cutoff, until=until, rng=rng)
    contact_tasks, events = lead_tasks(contacts, practice)
    loop_tasks, loop_touches, closed = plan_loops(
        practice=practice, leads=leads, events=events, callable_ids=callable_ids,
        cutoff=cutoff, until=until, rng=rng)
    tasks = pl.concat([ask_tasks(asks, practice, rng=rng), contact_tasks, loop_tasks],
                      how="diagonal_relaxed")
    ask_calls = _call_rows(asks, kind=TaskKind.ask).with_columns(
        task_key=pl.when(pl.col("attempt") == 1)
        .then(pl.format("ask:{}:{}", pl.lit(practice.practice_slug), "treatment_id")),
        root_key=pl.format("ask:{}:{}", pl.lit(practice.practice_slug), "treatment_id"),
    )
    lead_calls = _call_rows(contacts, kind="lead").with_columns(
        task_key=pl.format("contact_lead:{}:{}", pl.lit(practice.practice_slug), "lead_id"))
    calls = pl.concat([ask_calls, lead_calls, loop_touches], how="diagonal_relaxed")
    admin = _admin_blocks(practice, calls, until=until, rng=rng)
    touches = pl.concat([calls, admin], how="diagonal_relaxed")
    touches = touches.with_columns(
        practice_slug=pl.lit(practice.practice_slug),
        coordinator_id=pl.Series(rng.choice(np.array(team), size=touches.height)),
        channel=pl.when(pl.col("subject_type") == "practice").then(pl.lit("admin"))
        .otherwise(pl.lit("call")),
    )
    return tasks, touches, pl.concat([events, closed], how="vertical_relaxed")


def _task_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Complete rows for a bulk insert (every non-null column of `tasks`)."""
    defaults = {
        "patient_id": None, "lead_id": None, "treatment_id": None, "referrer_patient_id": None,
        "category": None, "case_value": 0.0, "satisfaction_score": None, "source_task_id": None,
        "value": 0.0, "p_success": 0.5, "expected_minutes": 8.0, "rank_key": 0.0,
        "consent_call": True, "do_not_contact": False, "escalated": False, "claim_version": 0,
        "claim_count": 0,
    }
    missing = [pl.lit(value).alias(name) for name, value in defaults.items()
               if name not in frame.columns]
    return (
        frame.with_columns(missing)
        .with_columns(pl.col("case_value").fill_null(0.0))
        .drop("root_key", strict=False)
        .to_dicts()
    )


def _key_ids(session: Session) -> pl.DataFrame:
    rows = session.execute(
        select_columns(*columns(Task.natural_key, Task.task_id, Task.status))
    ).all()
    return pl.DataFrame([tuple(r) for r in rows], orient="row",
                        schema={"natural_key": pl.String, "task_id": pl.Int64,
                                "status": pl.String})


def _write_tasks(session: Session, tasks: pl.DataFrame,
                 practices: dict[str, PracticeSettings]) -> int:
    """Insert done tasks, take over open ones refresh already made, add open ones scored."""
    existing = _key_ids(session)
    done = tasks.filter(pl.col("status") == "done")
    known = done.join(existing, on="natural_key", how="inner", maintain_order="left")
    # A task a refresh opened for the same work becomes the history's (same natural key).
    taken = known.filter(pl.col("status_right").is_in(list(ACTIVE))).drop("status_right")
    fresh = done.join(existing, on="natural_key", how="anti", maintain_order="left")
    rows = _task_rows(fresh)
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(Task), rows[start : start + INSERT_BATCH])
    updates = _task_rows(taken)
    if updates:
        session.execute(update(Task), [row | {"claimed_by": None, "lease_expires_at": None}
                                       for row in updates])
    opened = tasks.filter(pl.col("status") == "open")
    for row in opened.to_dicts():
        fields = {name: row.get(name) for name in TASK_COLUMNS} | {
            "consent_call": True, "do_not_contact": False,
            "attempt": row["attempt"], "source_task_id": row.get("source_task_id")}
        add_task(session=session, fields=fields, practice=practices[row["practice_slug"]],
                 now=row["created_at"])
    return len(rows) + len(updates) + opened.height


def _key_follow_ups(tasks: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    """Follow-up rows get `follow_up:{root task id}:{attempt}`, as dispositions name them."""
    roots = ids.select(pl.col("natural_key").alias("root_key"),
                       pl.col("task_id").alias("source_task_id"))
    follow = tasks.filter(pl.col("kind") == TaskKind.follow_up).join(
        roots, on="root_key", how="inner", maintain_order="left")
    follow = follow.with_columns(
        natural_key=pl.format("follow_up:{}:{}", "source_task_id", "attempt"))
    return pl.concat([tasks.filter(pl.col("kind") != TaskKind.follow_up), follow],
                     how="diagonal_relaxed")


def simulate_agency_history(*, session: Session, snapshot: duckdb.DuckDBPyConnection,
                            now: datetime, seed: int) -> HistorySummary:
    """Write each onboarded practice's agency work since onboarding, up to `now`.

    Work *triggered* in the last QUIET_DAYS (results visible, leads referred, outcomes
    reported) is left to the live queue; the calls on earlier work and the admin time run up
    to `now`, so this week's hours (the Capacity page) show the work done so far.
    """
    cutoff = now - timedelta(days=QUIET_DAYS)
    if history_exists(session, before=cutoff):
        return HistorySummary(0, 0, 0, 0, 0, 0.0, skipped=True)
    settings = session.exec(select(PracticeSettings).order_by(
        col(PracticeSettings.practice_slug))).all()
    onboarded = [p for p in settings
                 if p.active and p.onboarded_at is not None and p.onboarded_at < cutoff]
    if not onboarded:
        return HistorySummary(0, 0, 0, 0, 0, 0.0, skipped=False)
    team = _team(session, onboarded, now)
    marts = _marts(snapshot)
    plans = [_plan_practice(p, marts, team[p.practice_slug], cutoff=cutoff, until=now,
                            seed=seed)
             for p in onboarded]
    tasks = pl.concat([plan[0] for plan in plans], how="diagonal_relaxed").sort(
        "practice_slug", "created_at", "kind", "natural_key", "root_key", "attempt",
        nulls_last=True)
    touches = pl.concat([plan[1] for plan in plans], how="diagonal_relaxed")
    events = pl.concat([plan[2] for plan in plans], how="vertical_relaxed")
    begin_write(session)
    by_slug = {p.practice_slug: p for p in onboarded}
    roots = tasks.filter(pl.col("kind") != TaskKind.follow_up)
    written = _write_tasks(session, roots, by_slug)
    follow_ups = _key_follow_ups(tasks.filter(pl.col("kind") == TaskKind.follow_up),
                                 _key_ids(session))
    written += _write_tasks(session, follow_ups, by_slug)
    ids = _key_ids(session).select("natural_key", "task_id")
    root_ids = ids.rename({"natural_key": "root_key", "task_id": "root_id"})
    touches = (
        touches.join(root_ids, on="root_key", how="left", maintain_order="left")
        .with_columns(task_key=pl.coalesce(
            "task_key", pl.format("follow_up:{}:{}", "root_id", "attempt")))
        .join(ids.rename({"natural_key": "task_key"}), on="task_key", how="left",
              maintain_order="left")
        .sort("practice_slug", "started_at", "subject_id", "minutes", maintain_order=True)
    )
    touch_rows = touches.select(
        "task_id", "practice_slug", "subject_type", "subject_id", "patient_id", "lead_id",
        "treatment_id", "task_kind", "coordinator_id", "channel", "disposition",
        pl.lit("").alias("notes"), "minutes", "started_at", "ended_at",
    ).to_dicts()
    for start in range(0, len(touch_rows), INSERT_BATCH):
        session.execute(insert(Touch), touch_rows[start : start + INSERT_BATCH])
    event_rows = events.sort("practice_slug", "at", "lead_id").to_dicts()
    if event_rows:
        session.execute(insert(LeadEvent), event_rows)
    session.commit()
    coordinators = {c for members in team.values() for c in members}
    return HistorySummary(
        practices=len(onboarded), tasks=written, touches=len(touch_rows),
        lead_events=len(event_rows), coordinators=len(coordinators),
        hours=round(float(touches["minutes"].sum()) / 60.0, 1), skipped=False,
    )


__all__ = ["QUIET_DAYS", "HistorySummary", "history_exists", "simulate_agency_history"]
