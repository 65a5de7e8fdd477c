"""The router: login form without a session, and each role's navigation lists exactly its pages."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from console.identity.access import CurrentUser
from console.identity.users import add_user, deactivate_user
from console.models.identity import Role
from tests.pages.conftest import APP, Login, World, now_utc, registered, texts

COORDINATOR_PAGES = {"my_queue.py", "leads.py", "loop_closures.py"}
MANAGER_PAGES = {"sla_board.py", "capacity.py", "clients.py", "templates.py", "users.py",
                 "data_quality.py", "audit_log.py", "learned.py", "staffing.py",
                 "report_links.py"}


def test_no_session_shows_the_login_form() -> None:
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Loopdesk"]
    assert [t.label for t in app.text_input] == ["Email", "Password"]
    assert registered(app) == set()


def test_a_forged_token_shows_the_login_form() -> None:
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["session_token"] = "not-a-token"
    app.run()
    assert not app.exception
    assert [t.label for t in app.text_input] == ["Email", "Password"]


def test_logging_in_with_the_form(session: Session, world: World) -> None:
    slug = sorted(world.practices)[0]
    add_user(session=session, email="form.login@agency.test", role=Role.coordinator,
             password="correct horse battery", practice_slugs=[slug], actor="test",
             now=now_utc())
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.text_input[0].input("form.login@agency.test")
    app.text_input[1].input("wrong password here")
    app.button[0].click().run()
    assert "wrong email or password" in texts(app)
    app.text_input[1].input("correct horse battery")
    app.button[0].click().run()
    assert not app.exception
    assert registered(app) == COORDINATOR_PAGES
    assert "My queue" in texts(app)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.coordinator, COORDINATOR_PAGES),
        (Role.manager, MANAGER_PAGES),
        (Role.admin, MANAGER_PAGES),
        (Role.client_owner, {"report.py"}),
    ],
)
def test_each_role_sees_exactly_its_pages(
    login: Login, world: World, role: Role, expected: set[str]
) -> None:
    practices = [] if role in (Role.manager, Role.admin) else sorted(world.practices)[:1]
    app, _ = login(role, practices)
    assert not app.exception
    assert registered(app) == expected


def test_a_coordinator_cannot_open_a_manager_page(login: Login, world: World) -> None:
    app, _ = login(Role.coordinator, sorted(world.practices)[:1])
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page("pages/users.py")


def test_deactivation_ends_the_session_on_the_next_rerun(
    login: Login, session: Session, world: World
) -> None:
    app, user = login(Role.coordinator, sorted(world.practices)[:1])
    assert registered(app) == COORDINATOR_PAGES
    deactivate_user(session=session, user_id=user.user_id or 0, actor="test", now=now_utc())
    app.run()
    assert not app.exception
    # Whether Streamlit reruns the router or the page file directly, nothing of the queue shows.
    assert "My queue" not in texts(app)
    assert [b.label for b in app.button if b.label == "Next task"] == []


def test_log_out_button_ends_the_session(login: Login, world: World) -> None:
    app, _ = login(Role.client_owner, sorted(world.practices)[:1])
    app.sidebar.button[0].click().run()
    assert not app.exception
    assert "session_token" not in app.session_state
    assert "Report" not in texts(app)


def test_the_session_is_resolved_once_per_rerun_and_again_on_the_next(
    login: Login, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pages import components

    app, _ = login(Role.coordinator, sorted(world.practices)[:1])
    resolved: list[str | None] = []
    real = components.who_is

    def counting(*, token: str | None, now: datetime) -> CurrentUser | None:
        resolved.append(token)
        return real(token=token, now=now)

    monkeypatch.setattr(components, "who_is", counting)
    runs = [
        lambda: app.run(),  # the router and My queue's body
        # A callback runs before the router: the callback, router, page and card share it.
        lambda: next(b for b in app.button if b.label == "Next task").click().run(),
        lambda: next(b for b in app.button if b.label == "Release to queue").click().run(),
        lambda: app.run(),
    ]
    for run in runs:
        resolved.clear()
        run()
        assert not app.exception
        assert len(resolved) == 1, resolved
    assert "My queue" in texts(app)


def test_every_run_applies_the_constant_stylesheet() -> None:
    """The router places the console's stylesheet (a constant file) before anything else,
    login form included: the stale fade is one step on every page (brief console)."""
    from pages.components import STYLESHEET

    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    bodies = [node.proto.body for node in app.get("html")]
    assert bodies.count(f"<style>{STYLESHEET.read_text()}</style>") == 1
    assert 'data-stale="true"' in STYLESHEET.read_text()
