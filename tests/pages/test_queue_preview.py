"""My queue before a task is taken: the next call and why it is first, the queue ahead, time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, insert
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from console.identity.access import CurrentUser, current_user
from console.models.identity import Role, User
from console.models.learning import LearnedRate
from console.models.practice import PracticeSettings
from console.models.work import Task, TaskStatus, Touch
from console.platform.snapshot import snapshot
from console.views.preview import queue_preview
from tests.factories import learned_hour_rows
from tests.pages.conftest import Login, World, frames_text, now_utc, texts
from warehouse.lookups import records

# 03:30 in New York, 01:30 in Phoenix, 00:30 in Los Angeles: no demo practice may be called.
NIGHT = "2026-11-27T08:30:00+00:00"
HOUR_MEASURES = ("answer_hour", "answer_all", "team_hour")


def _acting(session: Session, user: User) -> CurrentUser:
    acting = current_user(session=session, user_id=user.user_id or 0)
    assert acting is not None
    return acting


def _people(slug: str) -> list[str]:
    """Every patient's full name and phone at the practice (none may appear in the preview)."""
    with snapshot() as conn:
        rows = records(conn, "select first_name, last_name, phone from mart_patients "
                       "where practice_slug = $p", {"p": slug})
    names = [f"{r['first_name']} {r['last_name']}" for r in rows if r["first_name"]]
    return names + [str(r["phone"]) for r in rows if r["phone"]]


def _button(app: AppTest, label: str) -> AppTest:
    return next(b for b in app.button if b.label == label).click().run()


def test_preview_shows_the_next_call_and_why_without_patient_data(
    login: Login, world: World, session: Session
) -> None:
    slug = sorted(world.practices)[1]
    app, user = login(Role.coordinator, [slug], "pages/my_queue.py")
    assert not app.exception
    expected = queue_preview(session=session, user=_acting(session, user), now=now_utc())
    session.rollback()
    assert expected.next_up is not None
    shown, cells = texts(app), frames_text(app)
    # A heading and a text block, no metric tiles: a tile cut a practice name or a task kind
    # in a third of the page ("Lakeshore Dental …", "Contact a referre…").
    assert f"Next up: {expected.next_up.kind}" in shown
    assert not app.metric
    assert f"{world.practices[slug]} · SLA {expected.next_up.sla}\n" in shown
    why = " · ".join(p for p in expected.next_up.why.split(" · ") if not p.startswith("SLA "))
    assert f"Why it is first: {why}" in shown and "Why it is first: SLA" not in shown
    assert "SLA " in expected.next_up.why and "case" in expected.next_up.why
    assert f"{expected.open_tasks} open tasks in your practices." in shown
    # The queue ahead: up to ten tasks in priority order, one plain-text line each with its
    # practice, kind, SLA, callability and reasons (a text block since brief render: the grid
    # was a fifth of the browser's work per call; the content is the table's).
    assert 0 < len(expected.lines) <= 10
    [ahead] = [t.value for t in app.text if t.value.startswith("The next ")]
    ahead_lines = ahead.splitlines()
    assert ahead_lines[0] == f"The next {len(expected.lines)} in priority order:"
    assert len(ahead_lines) == len(expected.lines) + 1
    for n, (shown_line, line) in enumerate(zip(ahead_lines[1:], expected.lines, strict=True), 1):
        assert shown_line.startswith(
            f"{n}. {world.practices[slug]} · {line.kind} · SLA {line.sla} · "
            + ("callable now" if line.callable_now else f"not callable now: {line.when}"))
        # Each reason is shown once: the SLA stands in its own field, not again among the
        # reasons (it was printed twice per line).
        assert shown_line.count("SLA ") == 1
        for reason in line.why.split(" · "):
            assert reason.startswith("SLA ") or reason in shown_line
    assert not [who for who in _people(slug) if who in shown or who in cells]


def test_next_task_still_claims_after_the_preview(
    login: Login, world: World, session: Session
) -> None:
    slug = sorted(world.practices)[1]
    app, user = login(Role.coordinator, [slug], "pages/my_queue.py")
    _button(app, "Next task")
    assert not app.exception
    held = session.exec(select(Task).where(Task.claimed_by == user.user_id)
                        .where(Task.status == TaskStatus.claimed)).one()
    assert held.practice_slug == slug
    shown = texts(app)
    assert "Next up" not in shown  # the card replaces the preview
    assert "Calling" in shown and f"task {held.task_id}" not in shown  # names, never ids


def test_an_uncallable_hour_says_so_and_counts_what_waits(
    login: Login, world: World, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPDESK_NOW", NIGHT)
    slug = sorted(world.practices)[2]
    app, user = login(Role.coordinator, [slug], "pages/my_queue.py")
    assert not app.exception
    waiting = queue_preview(session=session, user=_acting(session, user),
                            now=datetime.fromisoformat(NIGHT)).waiting_for_hours
    session.rollback()
    assert waiting > 0
    shown = texts(app)
    # NIGHT is 02:30 in Chicago, earlier further west: calling opens at 08:00 local time.
    assert "Nothing to call right now: calling opens at 08:00 in " in shown
    assert f"{waiting} tasks wait for calling hours." in shown
    assert "Next up" not in shown
    assert "not callable now: quiet hours in " in shown and "opens at 08:00" in shown
    next_task = next(b for b in app.button if b.label == "Next task")
    assert next_task.disabled and "calling opens at 08:00" in (next_task.help or "")
    # The waiting count by opening: one row per zone, adding up to the waiting tasks.
    openings = app.dataframe[0].value
    assert list(openings.columns) == ["calling opens", "when", "tasks waiting"]
    assert int(openings["tasks waiting"].sum()) == waiting
    assert session.exec(select(Task).where(Task.claimed_by == user.user_id)).all() == []


def test_log_other_work_records_an_admin_touch(
    login: Login, world: World, session: Session
) -> None:
    first, second, _ = sorted(world.practices)
    app, user = login(Role.coordinator, [first, second], "pages/my_queue.py")
    practice = app.selectbox(key="time_practice")
    assert sorted(practice.options) == sorted([world.practices[first], world.practices[second]])
    practice.set_value(second)
    app.number_input(key="time_minutes").set_value(25.0)
    app.text_input(key="time_note").input("prepared the monthly review")
    _button(app, "Log time")
    assert not app.exception
    assert f"Logged 25 min of other work for {world.practices[second]}." in texts(app)
    session.rollback()
    touch = session.exec(select(Touch).where(Touch.coordinator_id == user.user_id)
                         .order_by(col(Touch.touch_id).desc())).one()
    assert (touch.practice_slug, touch.channel, touch.minutes, touch.task_id) == (
        second, "admin", 25.0, None)
    assert touch.notes == "prepared the monthly review"


@contextmanager
def _answers_better_at_two(session: Session) -> Iterator[None]:
    """Learned hour rates under which patients answer 20 % at 09:00–11:00 local time and 50 %
    at 14:00–16:00, with a team that calls every hour (the world's own rows come back after)."""
    kept = session.exec(select(LearnedRate).where(col(LearnedRate.measure).in_(HOUR_MEASURES))
                        ).all()
    saved = [row.model_dump() for row in kept]
    session.execute(delete(LearnedRate).where(col(LearnedRate.measure).in_(HOUR_MEASURES)))
    session.execute(insert(LearnedRate), learned_hour_rows(range(24)))
    session.commit()
    try:
        yield
    finally:
        session.rollback()
        session.execute(delete(LearnedRate).where(col(LearnedRate.measure).in_(HOUR_MEASURES)))
        if saved:
            session.execute(insert(LearnedRate), saved)
        session.commit()


@contextmanager
def _unsnoozed_after(session: Session, kept: dict[int, datetime | None]) -> Iterator[None]:
    """Put back the snooze of the tasks in `kept` (task id → snoozed_until) afterwards."""
    try:
        yield
    finally:
        session.rollback()
        for task in session.exec(select(Task).where(col(Task.task_id).in_(list(kept)))).all():
            task.snoozed_until = kept[task.task_id or 0]
        session.commit()


def test_calls_held_for_a_better_hour_are_said_with_when_they_open(
    login: Login, world: World, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 10:00 in the practice's zone, with patients answering far better at 14:00 there,
    the preview says how many calls wait for that hour and when it comes (not "no task is
    due"), and the Next task button agrees with the claim."""
    slug = sorted(world.practices)[2]
    zone = session.exec(select(PracticeSettings.timezone)
                        .where(PracticeSettings.practice_slug == slug)).one()
    day = now_utc().astimezone(ZoneInfo(zone)).date()
    ten = datetime.combine(day, time(10), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    monkeypatch.setenv("LOOPDESK_NOW", ten.isoformat())
    place = zone.split("/")[-1].replace("_", " ")
    kept: dict[int, datetime | None] = {}
    with _answers_better_at_two(session), _unsnoozed_after(session, kept):
        app, user = login(Role.coordinator, [slug], "pages/my_queue.py")
        assert not app.exception
        preview = queue_preview(session=session, user=_acting(session, user), now=ten)
        session.rollback()
        held = preview.held_calls
        assert held > 0 and preview.next_held is not None
        assert preview.next_held.opens_local == "14:00" and preview.next_held.opens_in == "in 4 h"
        shown = texts(app)
        assert "no task in your practices is due" not in shown
        assert "None" not in shown and slug not in shown
        # The referred leads and the calls due within the hold's horizon go out now.
        assert preview.next_up is not None
        assert f"{held} calls held for a better hour (from 14:00 their time)." in shown
        assert "not callable now: held for a better hour: 14:00 in " in shown
        # Set those aside: then everything callable is held, and the preview says so.
        ready = [line.task_id for line in preview.lines if line.callable_now]
        while ready:
            tasks = session.exec(select(Task).where(col(Task.task_id).in_(ready))).all()
            kept.update({task.task_id or 0: task.snoozed_until for task in tasks})
            for task in tasks:
                task.snoozed_until = ten + timedelta(days=1)
            session.commit()
            preview = queue_preview(session=session, user=_acting(session, user), now=ten)
            ready = [line.task_id for line in preview.lines if line.callable_now]
        session.rollback()
        assert preview.next_up is None and preview.held_calls == held
        app.run()
        assert not app.exception
        shown = texts(app)
        assert (f"Nothing to call right now: {held} calls are held for a better hour — "
                f"the first opens at 14:00 in {place} (in 4 h).") in shown
        assert "no task in your practices is due" not in shown and "None" not in shown
        next_task = next(b for b in app.button if b.label == "Next task")
        assert next_task.disabled and "held for a better hour" in (next_task.help or "")
        better = app.dataframe[0].value
        assert list(better.columns) == ["better hour", "when", "calls held"]
        assert list(better["better hour"]) == [f"14:00 in {place}"]
        assert int(better["calls held"].sum()) == held
        assert f"{preview.open_tasks} open tasks in your practices." in shown
        assert f"not callable now: held for a better hour: 14:00 in {place}, in 4 h" in shown
