"""The demo's agency history: deterministic, idempotent, never resurrected, plausible metrics."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlmodel import Session, col, select

from console.demo.history import QUIET_DAYS, HistorySummary, simulate_agency_history
from console.demo.hours import business_days_after, into_hours
from console.models.practice import PracticeSettings
from console.models.work import LeadEvent, Task, Touch
from console.platform.db import get_engine, new_session
from loopdesk_core.business_hours import local, next_business_moment
from tests.conftest import FIXED_NOW
from tests.worlds import point_at_home

NOW = datetime.fromisoformat(FIXED_NOW)
SEED = 11




def _rows(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every history-relevant row, comparable across stores (refresh numbers its own ids)."""
    tasks = session.exec(select(Task).order_by(col(Task.task_id))).all()
    touches = session.exec(select(Touch).order_by(col(Touch.touch_id))).all()
    events = session.exec(select(LeadEvent).order_by(col(LeadEvent.event_id))).all()
    kinds = {t.task_id: t.kind for t in tasks}
    return {
        "tasks": sorted(
            (t.kind, t.practice_slug, t.subject_id, t.treatment_id or "", t.lead_id or "",
             t.attempt, t.status, t.closed_at, t.close_reason, t.sla_deadline,
             t.natural_key if not t.natural_key.startswith("follow_up:") else "")
            for t in tasks
        ),
        "touches": [(t.practice_slug, t.subject_id, kinds.get(t.task_id), t.coordinator_id,
                     t.disposition, t.minutes, t.started_at, t.channel) for t in touches],
        "events": [(e.lead_id, e.event, e.at, e.booked_value) for e in events],
    }


@dataclass
class World:
    """A small generated world with the history simulated and rebuilt once."""

    home: Path
    first: HistorySummary
    second: HistorySummary
    history: dict[str, list[tuple[Any, ...]]]
    after_rebuild: dict[str, list[tuple[Any, ...]]]
    created_by_rebuild: list[Task]
    metrics: dict[str, Any]
    before_after: dict[str, dict[str, Any]]


def _prepare(root: Path, exports: Path, patch: pytest.MonkeyPatch) -> Path:
    from console.lifecycle.build import build_everything
    from pipelines.ingest import ingest

    home = root / "home"
    point_at_home(patch, home)
    ingest(exports)
    build_everything(now=NOW)
    return home


def _simulate() -> HistorySummary:
    from warehouse.snapshot import reading_snapshot

    with reading_snapshot() as snapshot, new_session(get_engine()) as session:
        return simulate_agency_history(session=session, snapshot=snapshot, now=NOW, seed=SEED)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Three practices over 12 months: build, simulate, simulate again, rebuild."""
    from console.lifecycle.build import build_everything
    from pipelines.generate import generate_exports
    from warehouse.metrics import before_after_onboarding, compute_metrics
    from warehouse.scope import Scope
    from warehouse.snapshot import reading_snapshot

    root = tmp_path_factory.mktemp("history-world")
    generate_exports(root / "drop", practices=3, seed=7, months=12, now=NOW, dirty_share=0)
    with pytest.MonkeyPatch.context() as patch:
        home = _prepare(root / "a", root / "drop", patch)
        first = _simulate()
        second = _simulate()
        with new_session(get_engine()) as session:
            history = _rows(session)
            before_ids = {t.task_id for t in session.exec(select(Task)).all()}
        build_everything(now=NOW)
        with new_session(get_engine()) as session:
            after = _rows(session)
            created = [t for t in session.exec(select(Task)).all()
                       if t.task_id not in before_ids]
        with reading_snapshot() as snapshot:
            metrics = compute_metrics(snapshot, scope=Scope.agency())
            halves = {
                row["practice_slug"]: before_after_onboarding(
                    snapshot, scope=Scope.agency(), practice_slug=row["practice_slug"])
                for row in metrics["practices"]
            }
        yield World(home=home, first=first, second=second, history=history,
                    after_rebuild=after, created_by_rebuild=created, metrics=metrics,
                    before_after=halves)


@pytest.fixture
def session(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """A session on the world's store."""
    point_at_home(monkeypatch, world.home)
    with new_session(get_engine()) as opened:
        yield opened


def test_history_writes_work_for_onboarded_practices(world: World) -> None:
    assert not world.first.skipped
    assert world.first.practices >= 2
    assert world.first.touches > 500
    assert world.first.lead_events > 50
    kinds = {row[0] for row in world.history["tasks"] if row[6] == "done"}
    assert {"ask", "follow_up", "contact_lead", "close_loop", "review_request"} <= kinds


def test_second_call_adds_nothing(world: World) -> None:
    assert world.second.skipped
    assert (world.second.tasks, world.second.touches, world.second.lead_events) == (0, 0, 0)


def test_same_seed_gives_the_same_rows(world: World, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        _prepare(tmp_path, world.home.parent.parent / "drop", patch)
        _simulate()
        with new_session(get_engine()) as session:
            again = _rows(session)
    assert again == world.history


def test_rebuild_never_recreates_work_the_history_did(world: World) -> None:
    handled: dict[str, set[tuple[str, str]]] = {
        "ask": set(), "contact_lead": set(), "close_loop": set()}
    for row in world.history["tasks"]:
        kind, slug, _subject, treatment, lead = row[:5]
        if kind in handled and row[6] == "done":
            handled[kind].add((slug, treatment if kind == "ask" else lead))
    assert all(handled.values())
    for task in world.created_by_rebuild:
        if task.kind in ("ask", "review_request"):
            assert (task.practice_slug, task.treatment_id) not in handled["ask"], task.natural_key
        if task.kind in ("contact_lead", "close_loop"):
            assert (task.practice_slug, task.lead_id) not in handled[task.kind], task.natural_key
    # The history's own rows survive the rebuild unchanged.
    assert world.after_rebuild["touches"] == world.history["touches"]


def test_every_touch_is_inside_the_practices_hours(world: World, session: Session) -> None:
    practices = {p.practice_slug: p for p in session.exec(select(PracticeSettings)).all()}
    touches = session.exec(select(Touch)).all()
    assert touches
    for touch in touches:
        practice = practices[touch.practice_slug]
        assert touch.ended_at is not None and touch.ended_at < NOW
        assert practice.onboarded_at is not None and touch.started_at >= practice.onboarded_at
        assert next_business_moment(touch.started_at, practice) == touch.started_at
        end = local(touch.ended_at, practice.timezone)
        assert end.date() == local(touch.started_at, practice.timezone).date()
        assert end.strftime("%H:%M") <= practice.business_hours_end
        assert touch.coordinator_id is not None


def test_the_history_runs_up_to_now_so_this_week_shows_work(
    world: World, session: Session,
) -> None:
    """The Capacity page on the demo showed 0 h delivered this week: the history stopped
    QUIET_DAYS before `now`, before Monday. Calls and admin time now run up to `now`; only
    work *triggered* in the last QUIET_DAYS is left to the live queue."""
    from console.identity.access import current_user
    from console.models.identity import Role, User
    from console.views.capacity import capacity_today

    cutoff = NOW - timedelta(days=QUIET_DAYS)
    touches = session.exec(select(Touch)).all()
    assert max(t.ended_at for t in touches if t.ended_at is not None) > cutoff
    manager = User(email="capacity.manager@example.test", role=Role.manager,
                   password_hash="x", active=True, created_at=NOW)
    session.add(manager)
    session.flush()
    acting = current_user(session=session, user_id=manager.user_id or 0)
    assert acting is not None
    week = capacity_today(session=session, user=acting, now=NOW)
    onboarded = {p.name for p in session.exec(select(PracticeSettings)).all()
                 if p.onboarded_at is not None and p.onboarded_at < cutoff}
    shown = [w for w in week.practices if w.name in onboarded]
    assert shown
    for practice in shown:  # admin time is 0.8-1.1 of the contract, calls on top
        assert 0.6 * practice.prorated_contract_hours <= practice.delivered_hours, practice
        assert practice.delivered_hours <= 1.4 * practice.prorated_contract_hours, practice
    session.rollback()
    # What was triggered in the quiet days is still the live queue's.
    for task in session.exec(select(Task).where(col(Task.status) == "done")).all():
        if task.kind in ("ask", "contact_lead", "close_loop"):
            assert task.created_at < cutoff, task.natural_key


def _after(world: World, slug: str) -> dict[str, Any]:
    after = world.before_after[slug]["after"]
    assert after is not None
    metrics: dict[str, Any] = after["metrics"]
    return metrics


def test_metrics_after_onboarding_are_plausible(world: World) -> None:
    onboarded = [slug for slug, halves in world.before_after.items() if halves["after"]]
    assert onboarded
    for slug in onboarded:
        after = _after(world, slug)
        assert 0.7 <= after["ask_rate"] <= 0.97, slug
        assert 0.6 <= after["reach_rate"] <= 0.85, slug
        assert 0.7 <= after["willingness_rate"] <= 0.93, slug
        assert 0.3 <= after["referral_rate"] <= 0.5, slug
        assert 0.8 <= after["lead_contact_sla_rate"] <= 1.0, slug
        assert 0.75 <= after["loop_closure_rate"] <= 0.95, slug
        assert 0.7 <= after["hours_ratio_to_contract"] <= 1.2, slug


def test_before_after_shows_the_improvement(world: World) -> None:
    for slug, halves in world.before_after.items():
        if not halves["after"]:
            continue
        before, after = halves["before"]["metrics"], _after(world, slug)
        assert before["counts"]["hours_total"] == 0
        assert after["referral_rate"] > before["referral_rate"]
        assert after["lead_contact_sla_rate"] > before["lead_contact_sla_rate"]
    agency = world.metrics["agency"]
    assert agency["counts"]["hours_total"] > 0
    assert agency["ask_rate"] > 0.3


def test_vectorised_business_days_match_the_console() -> None:
    from loopdesk_core.business_hours import add_business_days

    practice = PracticeSettings(practice_slug="p", name="p", specialty="dental",
                                timezone="America/Chicago")
    starts = [datetime(2026, 3, 6, 22, 0, tzinfo=UTC) + timedelta(hours=7 * n)
              for n in range(60)]  # spans a DST change, weekends and nights
    frame = pl.DataFrame({"at": starts}).with_columns(pl.col("at").dt.cast_time_unit("us"))
    for days in (1, 2):
        got = frame.select(business_days_after("at", practice, days)).to_series().to_list()
        assert got == [add_business_days(at, days, practice) for at in starts]
    moved = frame.select(
        into_hours("at", practice, minutes=pl.lit(12.0), spread=pl.lit(0.5))
    ).to_series().to_list()
    for start, at in zip(starts, moved, strict=True):
        assert at >= start
        assert next_business_moment(at, practice) == at
        assert local(at + timedelta(minutes=12), practice.timezone).strftime("%H:%M") <= "17:00"
