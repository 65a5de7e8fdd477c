"""My queue with nothing callable: where the coordinator's time is owed, in words."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import Session

from console.identity.access import CurrentUser, current_user
from console.models.identity import Role, User
from console.views.work import owed_time
from console.work.other_work import most_behind, practice_weeks, scope_practices
from tests.pages.conftest import Login, World, texts
from warehouse.scope import Scope

# 03:30 in New York, earlier further west: no demo practice may be called (Friday: four
# working days of the week are owed).
NIGHT = "2026-11-27T08:30:00+00:00"


def _acting(session: Session, user: User) -> CurrentUser:
    acting = current_user(session=session, user_id=user.user_id or 0)
    assert acting is not None
    return acting


def _agency_order(session: Session, world: World) -> list[str]:
    """The world's practices, most hours behind first, at NIGHT."""
    manager = CurrentUser(user_id=0, email="m@agency.test", role=Role.manager,
                          practice_slugs=frozenset(), scope=Scope.agency())
    weeks = practice_weeks(session, scope_practices(session, manager),
                           datetime.fromisoformat(NIGHT))
    session.rollback()
    return [w.practice_slug for w in sorted(weeks, key=lambda w: -w.behind_hours)]


def test_nothing_callable_names_the_practice_most_behind_and_preselects_it(
    login: Login, world: World, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPDESK_NOW", NIGHT)
    first, second, _ = sorted(world.practices)
    app, user = login(Role.coordinator, [first, second], "pages/my_queue.py")
    assert not app.exception
    owed = owed_time(session=session, user=_acting(session, user),
                     now=datetime.fromisoformat(NIGHT))
    session.rollback()
    assert owed is not None and owed.practice_slug in (first, second)
    shown = texts(app)
    assert "Nothing to call right now" in shown
    sentence = (f"{world.practices[owed.practice_slug]} is {owed.behind_hours:.1f} h behind "
                "its contracted hours this week: log referral work for them below.")
    assert sentence in shown
    assert owed.practice_slug not in shown.replace(sentence, "")  # names, never slugs
    # The "Log other work" form has that practice chosen.
    assert app.selectbox(key="time_practice").value == owed.practice_slug


def test_a_coordinator_is_never_pointed_outside_their_scope(
    login: Login, world: World, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPDESK_NOW", NIGHT)
    furthest, *rest = _agency_order(session, world)
    mine = rest[-1]  # the least behind of the three
    app, user = login(Role.coordinator, [mine], "pages/my_queue.py")
    assert not app.exception
    acting = _acting(session, user)
    owed = most_behind(session=session, user=acting, now=datetime.fromisoformat(NIGHT))
    session.rollback()
    assert owed is not None and owed.practice_slug == mine
    shown = texts(app)
    assert f"{world.practices[mine]} is {owed.behind_hours:.1f} h behind" in shown
    for other in (furthest, *rest[:-1]):
        assert world.practices[other] not in shown
    assert app.selectbox(key="time_practice").value == mine


def test_with_a_call_to_make_there_is_no_suggestion(login: Login, world: World) -> None:
    app, _ = login(Role.coordinator, sorted(world.practices)[:2], "pages/my_queue.py")
    assert not app.exception
    shown = texts(app)
    assert "Next up: " in shown and "behind its contracted hours" not in shown
