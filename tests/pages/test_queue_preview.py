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
    # The queue ahead: the callable tasks after Next up, numbered as Next task will give
    # them, one plain-text line each with practice, kind, SLA and reasons; then the best
    # tasks not callable now, with why (a text block since brief render: the grid was a
    # fifth of the browser's work per call; the content is the table's).
    blocks = {t.value.splitlines()[0]: t.value.splitlines()[1:] for t in app.text}
    shown_ahead = blocks.get("After it, in the order Next task gives them:", [])
    assert len(shown_ahead) == len(expected.ahead) <= 10
    for n, (shown_line, line) in enumerate(zip(shown_ahead, expected.ahead, strict=True), 2):
        assert line.callable_now and line.task_id != expected.next_up.task_id
        assert shown_line.startswith(f"{n}. {world.practices[slug]} · {line.kind} · "
                                     f"SLA {line.sla}")
        _reasons_once(shown_line, line.why)
    shown_waiting = blocks.get("Not callable now (the highest ranked):", [])
    assert len(shown_waiting) == len(expected.waiting) <= 5
    for shown_line, line in zip(shown_waiting, expected.waiting, strict=True):
        assert not line.callable_now
        assert shown_line.startswith(f"- {world.practices[slug]} · {line.kind} · "
                                     f"SLA {line.sla} · not callable now: {line.when}")
        _reasons_once(shown_line, line.why)
    assert not [who for who in _people(slug) if who in shown or who in cells]


def _reasons_once(shown_line: str, why: str) -> None:
    """Each reason shown once: the SLA stands in its own field, not again among the reasons
    (it was printed twice per line)."""
    assert shown_line.count("SLA ") == 1
    for reason in why.split(" · "):
        assert reason.startswith("SLA ") or reason in shown_line


@contextmanager
def _moved_to(session: Session, slug: str, zone: str) -> Iterator[None]:
    """The practice and its tasks in another time zone, for the block; claims made inside
    are handed back afterwards."""
    from sqlalchemy import text

    before = session.exec(select(PracticeSettings.timezone)
                          .where(PracticeSettings.practice_slug == slug)).one()
    claimed = {t.task_id for t in session.exec(select(Task).where(
        col(Task.status) == TaskStatus.claimed)).all()}

    def move(to: str) -> None:
        session.execute(text("update practice_settings set timezone = :z "
                             "where practice_slug = :p"), {"z": to, "p": slug})
        session.execute(text("update tasks set practice_tz = :z where practice_slug = :p"),
                        {"z": to, "p": slug})
        session.commit()

    move(zone)
    try:
        yield
    finally:
        session.rollback()
        for task in session.exec(select(Task).where(col(Task.status) == TaskStatus.claimed)
                                 ).all():
            if task.task_id not in claimed:
                task.status, task.claimed_by, task.lease_expires_at = TaskStatus.open, None, None
                session.add(task)
        session.commit()
        move(before)


def test_the_preview_reads_in_the_order_next_task_gives_tasks(
    login: Login, world: World, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At night in America one practice (moved to Tokyo, 17:30 there) is callable and the
    other is not. The preview listed ten tasks in priority order, "not callable now" above
    the Next up task repeated as item 2; now Next up, then the callable tasks after it
    exactly in the order Next task claims them, then the rest apart, with why."""
    from console.work.claims import claim_next

    monkeypatch.setenv("LOOPDESK_NOW", NIGHT)
    night = datetime.fromisoformat(NIGHT)
    slugs = sorted(world.practices)
    _, user = login(Role.coordinator, slugs, "pages/my_queue.py")
    # The practice of the best-ranked task stays asleep; the two others wake up in Tokyo.
    top = queue_preview(session=session, user=_acting(session, user), now=night).lines[0]
    session.rollback()
    [asleep] = [slug for slug in slugs if world.practices[slug] == top.practice_name]
    awake = [slug for slug in slugs if slug != asleep]
    with _moved_to(session, awake[0], "Asia/Tokyo"), _moved_to(session, awake[1], "Asia/Tokyo"):
        # Claim windows ranked by earlier tests at the same pinned NIGHT (in this process or
        # published to the store) predate the move and, on a clock that never advances,
        # would never expire: start from none.
        from console.models.work import ClaimWindow
        from console.work import window
        from console.work.claims import expire_leases

        window.forget_windows()
        session.execute(delete(ClaimWindow))
        # Leases earlier tests left to lapse: Next task sweeps them back into the queue
        # before it claims, the preview (a read) does not (noted in docs/console.md).
        expire_leases(session=session, now=night)
        session.commit()
        app, user = login(Role.coordinator, slugs, "pages/my_queue.py")
        acting = _acting(session, user)
        preview = queue_preview(session=session, user=acting, now=night)
        session.rollback()
        assert preview.next_up is not None and preview.ahead and preview.waiting
        # The situation of the report: the top of the priority list is not callable.
        assert not preview.lines[0].callable_now
        ahead = [line.task_id for line in preview.ahead]
        assert preview.next_up.task_id not in ahead
        assert all(line.callable_now for line in preview.ahead)
        assert not any(line.callable_now for line in preview.waiting)
        blocks = {t.value.splitlines()[0]: t.value.splitlines()[1:] for t in app.text}
        listed = blocks["After it, in the order Next task gives them:"]
        woken = {world.practices[slug] for slug in awake}
        assert listed[0].startswith("2. ")
        assert all(any(f". {name} · " in line for name in woken) and "not callable" not in line
                   for line in listed)
        assert any(line.startswith(f"- {world.practices[asleep]} · ") and
                   "not callable now: quiet hours in " in line
                   for line in blocks["Not callable now (the highest ranked):"])
        # The order claims take: Next up, then the lines after it, one by one.
        claims = [claim_next(session=session, user=acting, now=night)
                  for _ in range(1 + min(3, len(ahead)))]
        assert [task.task_id if task else None for task in claims] == (
            [preview.next_up.task_id, *ahead[:len(claims) - 1]])


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
