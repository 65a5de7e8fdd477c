"""SECURITY 6-7: a user of practice A reads nothing of practice B through any read path.

A built world of two practices; the acting users belong to A. Every service, view and
warehouse read function the pages and the HTTP report use is asked for B (or for
everything) and must return only A, or refuse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlmodel import Session, select

from console.identity import audit
from console.identity.access import CurrentUser, current_user
from console.models.identity import Role, User, UserPractice
from console.models.practice import PracticeSettings
from console.models.work import Task, TaskStatus
from console.platform.db import get_engine, init_db, new_session
from console.platform.errors import NotAuthorised, UserError
from console.reporting.report_links import create_report_link
from console.reporting.reports import build_practice_report, report_for_token
from console.views import lists, manage, preview, report, work
from console.work.claims import claim_next, list_queue
from tests.worlds import build_generated_world, point_at_home
from warehouse.forecast import practice_forecast
from warehouse.metrics import before_after_onboarding, compute_metrics
from warehouse.metrics_ops import capacity, funnel_by_month, sla_board
from warehouse.quality import data_quality, quarantine_rows
from warehouse.scope import Scope
from warehouse.snapshot import open_snapshot

# Thursday 13:00 in New York: generated practices are inside call hours.
WORLD_NOW = "2026-11-26T18:00:00+00:00"
NOW = datetime.fromisoformat(WORLD_NOW)


@dataclass(frozen=True)
class TwoPractices:
    """The built world: practice A (ours), practice B (theirs) and B's patient names."""

    home: Path
    a: str
    b: str
    b_name: str
    b_people: frozenset[str]




@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoPractices]:
    """Two generated practices with dirty rows, ingested and built once."""
    import polars as pl


    root = tmp_path_factory.mktemp("isolation")
    with pytest.MonkeyPatch.context() as patch:
        point_at_home(patch, root / "home", WORLD_NOW)
        build_generated_world(root / "drop", practices=2, seed=11, months=3, now=NOW,
                              dirty_share=0.05)
        a, b = sorted(p.name for p in (root / "drop").iterdir() if p.is_dir())
        people = pl.read_csv(root / "drop" / b / "patients.csv", infer_schema=False)
        names = frozenset(
            f"{first} {last}" for first, last in people.select("first_name", "last_name").rows()
            if first and last
        )
        with new_session(get_engine()) as session:
            b_name = session.get(PracticeSettings, b).name  # type: ignore[union-attr]
    yield TwoPractices(home=root / "home", a=a, b=b, b_name=b_name, b_people=names)


@pytest.fixture(autouse=True)
def _world_env(world: TwoPractices, monkeypatch: pytest.MonkeyPatch) -> None:
    point_at_home(monkeypatch, world.home, WORLD_NOW)


@pytest.fixture
def session(world: TwoPractices) -> Iterator[Session]:
    engine = get_engine()
    init_db(engine)
    with new_session(engine) as db:
        yield db


@pytest.fixture
def conn(world: TwoPractices) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = open_snapshot()
    yield connection
    connection.close()


def _user(session: Session, role: Role, practices: list[str]) -> tuple[User, CurrentUser]:
    count = len(session.exec(select(User)).all())
    user = User(email=f"{role.value}{count}@agency.test", role=role.value,
                password_hash="unused", active=True, created_at=NOW)
    session.add(user)
    session.flush()
    for slug in practices:
        session.add(UserPractice(user_id=user.user_id or 0, practice_slug=slug))
    session.commit()
    acting = current_user(session=session, user_id=user.user_id or 0)
    assert acting is not None
    return user, acting


def _open_task(session: Session, slug: str) -> Task:
    task = session.exec(select(Task).where(Task.practice_slug == slug)
                        .where(Task.status == TaskStatus.open)).first()
    assert task is not None, f"the world has no open task for {slug}"
    return task


# --- warehouse read functions, with A's scope ------------------------------------------------

def test_warehouse_metric_reads_refuse_or_omit_b(
    world: TwoPractices, conn: duckdb.DuckDBPyConnection
) -> None:
    scope = Scope.of([world.a])
    everything = compute_metrics(conn, scope=Scope.agency())
    assert {p["practice_slug"] for p in everything["practices"]} == {world.a, world.b}
    mine = compute_metrics(conn, scope=scope)
    assert [p["practice_slug"] for p in mine["practices"]] == [world.a]
    assert world.b_name not in str(mine)
    for read in (
        lambda: compute_metrics(conn, scope=scope, practice_slug=world.b),
        lambda: before_after_onboarding(conn, scope=scope, practice_slug=world.b),
        lambda: funnel_by_month(conn, scope=scope, practice_slug=world.b),
        lambda: practice_forecast(conn, scope=scope, practice_slug=world.b),
    ):
        with pytest.raises(LookupError):
            read()
    board = sla_board(conn, scope=scope, now=NOW)
    assert [p["practice_slug"] for p in board["practices"]] == [world.a]
    week = capacity(conn, scope=scope, week_start=NOW.date())
    assert world.b_name not in str(week)
    assert {row["name"] for row in week["practices"]} <= {p["name"] for p in mine["practices"]}


def test_quarantine_and_feed_rows_of_b_are_invisible(
    world: TwoPractices, conn: duckdb.DuckDBPyConnection
) -> None:
    scope = Scope.of([world.a])
    every_row = quarantine_rows(conn, scope=Scope.agency(), limit=10_000)
    assert world.b in {row["practice_slug"] for row in every_row}, "fixture: B has bad rows"
    assert {row["practice_slug"] for row in quarantine_rows(conn, scope=scope, limit=10_000)} \
        <= {world.a}
    assert quarantine_rows(conn, scope=scope, practice_slug=world.b) == []
    assert {row["practice_slug"] for row in data_quality(conn, scope=scope)} == {world.a}
    assert data_quality(conn, scope=scope, practice_slug=world.b) == []


def test_report_builders_refuse_b(world: TwoPractices, session: Session) -> None:
    with pytest.raises(NotAuthorised):
        build_practice_report(practice_slug=world.b, scope=Scope.of([world.a]), now=NOW)
    link = create_report_link(session=session, practice_slug=world.a, days=7, actor="cli",
                              now=NOW)
    asked: list[tuple[str, Scope]] = []

    def provider(*, practice_slug: str, scope: Scope, now: datetime) -> dict[str, Any]:
        asked.append((practice_slug, scope))
        return build_practice_report(practice_slug=practice_slug, scope=scope, now=now)

    body = report_for_token(session=session, token=link.token, provider=provider, now=NOW)
    assert asked == [(world.a, Scope.of([world.a]))]
    assert world.b_name not in str(body)


# --- services and page views, as users of A ---------------------------------------------------

def test_queue_and_claims_never_hand_out_b(world: TwoPractices, session: Session) -> None:
    _, user = _user(session, Role.coordinator, [world.a])
    entries = list_queue(session=session, user=user, now=NOW, limit=500)
    assert entries and {e.practice_slug for e in entries} == {world.a}
    for _ in range(5):
        task = claim_next(session=session, user=user, now=NOW)
        assert task is not None and task.practice_slug == world.a


def test_held_task_actions_on_b_are_refused(world: TwoPractices, session: Session) -> None:
    _, theirs = _user(session, Role.coordinator, [world.b])
    claimed = claim_next(session=session, user=theirs, now=NOW)
    assert claimed is not None and claimed.practice_slug == world.b
    task_id, version = claimed.task_id or 0, claimed.claim_version
    _, me = _user(session, Role.coordinator, [world.a])
    refused: list[Callable[[], object]] = [
        lambda: work.task_card(session=session, user=me, task_id=task_id, now=NOW),
        lambda: work.log_outcome(session=session, user=me, task_id=task_id,
                                 claim_version=version, disposition="no_answer", minutes=1,
                                 notes="", callback_at=None, lead=None, now=NOW),
        lambda: work.put_back(session=session, user=me, task_id=task_id,
                              claim_version=version, now=NOW),
        lambda: work.set_aside(session=session, user=me, task_id=task_id,
                               claim_version=version, until=NOW + timedelta(days=1), now=NOW),
        lambda: preview.log_other_work(session=session, user=me, practice_slug=world.b,
                                    minutes=10, note=None, now=NOW),
    ]
    for attempt in refused:
        with pytest.raises(UserError):
            attempt()
    assert work.created_task(session=session, user=me, task_id=task_id) is None
    assert work.created_task(session=session, user=me,
                             task_id=_open_task(session, world.b).task_id) is None
    stored = session.get(Task, task_id, populate_existing=True)
    assert stored is not None and stored.claimed_by == theirs.user_id
    assert stored.claim_version == version


def test_queue_preview_and_time_practices_show_only_a(world: TwoPractices,
                                                       session: Session) -> None:
    _, me = _user(session, Role.coordinator, [world.a])
    shown = preview.queue_preview(session=session, user=me, now=NOW)
    assert shown.lines and world.b_name not in str(shown)
    open_a = session.exec(select(Task).where(Task.practice_slug == world.a)
                          .where(Task.status == TaskStatus.open)).all()
    assert shown.open_tasks == len(open_a)
    assert list(preview.time_practices(session=session, user=me)) == [world.a]


def test_patient_lists_hold_nothing_of_b(world: TwoPractices, session: Session) -> None:
    _, me = _user(session, Role.coordinator, [world.a])
    _, agency = _user(session, Role.manager, [])
    everyone = str(lists.leads_list(session=session, user=agency, now=NOW))
    assert any(name in everyone for name in world.b_people) or world.b_name in everyone, \
        "fixture: the agency-wide list shows B"
    for rows in (lists.leads_list(session=session, user=me, now=NOW),
                 lists.loop_closures(session=session, user=me, now=NOW)):
        shown = str(rows)
        assert world.b_name not in shown
        assert not any(name in shown for name in world.b_people)


def test_owner_report_views_refuse_b(world: TwoPractices, session: Session) -> None:
    _, owner = _user(session, Role.client_owner, [world.a])
    assert report.report_practices(owner) == [world.a]
    mine = report.practice_report(session=session, user=owner, practice_slug=world.a, now=NOW)
    assert world.b_name not in str(mine)
    with pytest.raises(NotAuthorised):
        report.practice_report(session=session, user=owner, practice_slug=world.b, now=NOW)
    with pytest.raises(NotAuthorised):
        report.report_csv(session=session, user=owner, practice_slug=world.b, report=mine,
                          now=NOW)


@pytest.mark.parametrize("role", [Role.coordinator, Role.client_owner])
def test_manager_views_refuse_practice_users(world: TwoPractices, session: Session,
                                            role: Role) -> None:
    _, me = _user(session, role, [world.a])
    refused: list[Callable[[], object]] = [
        lambda: manage.sla_board_view(session=session, user=me, now=NOW),
        lambda: manage.capacity_view(user=me, now=NOW),
        lambda: manage.clients(session=session, user=me),
        lambda: manage.update_client(session=session, user=me, practice_slug=world.b,
                                     changes={"share_blurb": "x"}, now=NOW),
        lambda: manage.user_rows(session=session, user=me),
        lambda: manage.data_quality_view(session=session, user=me, now=NOW),
        lambda: manage.audit_rows(session=session, user=me),
    ]
    for attempt in refused:
        with pytest.raises(NotAuthorised):
            attempt()


def test_audit_reads_are_scoped(world: TwoPractices, session: Session) -> None:
    _, owner = _user(session, Role.client_owner, [world.b])
    report.practice_report(session=session, user=owner, practice_slug=world.b, now=NOW)
    assert audit.list_events(session=session, scope=Scope.agency(), limit=10_000,
                             ) and any(
        e.practice_slug == world.b
        for e in audit.list_events(session=session, scope=Scope.agency(), limit=10_000))
    mine = audit.list_events(session=session, scope=Scope.of([world.a]), limit=10_000)
    assert all(e.practice_slug in (world.a, None) for e in mine) and not any(
        e.practice_slug == world.b for e in mine)

