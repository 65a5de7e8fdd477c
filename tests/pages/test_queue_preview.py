"""My queue before a task is taken: the next call and why it is first, the queue ahead, time."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from console.identity.access import CurrentUser, current_user
from console.models.identity import Role, User
from console.models.work import Task, TaskStatus, Touch
from console.platform.snapshot import snapshot
from console.views.preview import queue_preview
from tests.pages.conftest import Login, World, frames_text, now_utc, texts
from warehouse.lookups import records

# 03:30 in New York, 01:30 in Phoenix, 00:30 in Los Angeles: no demo practice may be called.
NIGHT = "2026-11-27T08:30:00+00:00"


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
    assert "Next up" in shown
    assert f"Practice {world.practices[slug]}" in shown
    assert f"Why it is first: {expected.next_up.why}" in shown
    assert "SLA " in expected.next_up.why and "case" in expected.next_up.why
    assert f"{expected.open_tasks} open tasks in your practices." in shown
    # The table: up to ten tasks in priority order, each with its reasons and callability.
    table = app.dataframe[0].value
    assert list(table.columns) == ["practice", "task", "why", "SLA", "callable"]
    assert list(table["why"]) == [line.why for line in expected.lines]
    assert 0 < len(table) <= 10 and set(table["practice"]) == {world.practices[slug]}
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
    assert "quiet hours in " in frames_text(app) and "opens at 08:00" in frames_text(app)
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
