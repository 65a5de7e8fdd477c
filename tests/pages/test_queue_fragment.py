"""My queue's work area is a fragment: its clicks rerun only the fragment, and each such rerun
still re-reads the user's role and practices from the store (SECURITY 5).

AppTest reruns the whole script on a click; `fragment_clicks` makes its clicks real fragment
reruns (the rerun request names the page's fragments, as the browser's does), so these tests
exercise the path a browser takes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
from streamlit.testing.v1 import AppTest

from console.identity.access import CurrentUser
from console.identity.audit import Action
from console.identity.users import deactivate_user
from console.models.identity import AuditEvent, Role
from console.models.work import Task, TaskStatus, Touch
from tests.pages.conftest import Login, World, now_utc, texts


def _button(app: AppTest, label: str) -> AppTest:
    return next(b for b in app.button if b.label == label).click().run()


@pytest.fixture
def fragment_clicks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """While set to a list of fragment ids, AppTest's clicks rerun only those fragments."""
    import streamlit.testing.v1.local_script_runner as runner

    queue: list[list[str]] = []

    def rerun_data(**fields: object) -> RerunData:
        return RerunData(**fields, fragment_id_queue=list(queue[-1]) if queue else [])  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "RerunData", rerun_data)
    yield queue


def _form_fragment(app: AppTest) -> list[str]:
    """The outcome form's fragment (nested in the work area's): where the card's outcome
    widgets and Log outcome live, so what a browser's click on them reruns."""
    storage = app._fragment_storage
    nested = [fid for fid in storage._fragments if storage._parent_by_id.get(fid) is not None]
    assert len(nested) == 1, "the outcome form is a fragment inside the work area's"
    return nested


def _with_card(login: Login, world: World) -> tuple[AppTest, int]:
    app, user = login(Role.coordinator, [sorted(world.practices)[1]], "pages/my_queue.py")
    _button(app, "Next task")
    assert not app.exception
    assert "Calling" in texts(app)
    return app, user.user_id or 0


def _views(session: Session, user_id: int) -> int:
    session.expire_all()
    return len(session.exec(select(AuditEvent).where(AuditEvent.actor == f"user:{user_id}")
                            .where(AuditEvent.action == Action.view_patient)).all())


def test_a_fragment_click_reruns_the_fragment_only_and_resolves_the_user(
    login: Login, world: World, session: Session, fragment_clicks: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pages import components

    app, user_id = _with_card(login, world)
    fragment_clicks.append(_form_fragment(app))
    resolved: list[str | None] = []
    synced: list[bool] = []
    real_resolve, real_sync = components.who_is, components.cookie_sync

    def counting(*, token: str | None, now: datetime) -> CurrentUser | None:
        resolved.append(token)
        return real_resolve(token=token, now=now)

    def syncing() -> None:
        synced.append(True)
        real_sync()

    monkeypatch.setattr(components, "who_is", counting)
    monkeypatch.setattr(components, "cookie_sync", syncing)
    views = _views(session, user_id)
    app.selectbox[0].select("no_answer").run()  # reruns the outcome form only
    assert not app.exception
    assert resolved and len(resolved) == 1, resolved  # re-read once, by the fragment
    assert synced == []  # the router did not run
    assert [b.label for b in app.button if b.label == "Log outcome"] == ["Log outcome"]
    # The card is kept for its claim: redrawing it is not another audited view.
    assert _views(session, user_id) == views
    resolved.clear()
    _button(app, "Log outcome")
    assert not app.exception
    # The callback's run re-reads once; its rerun of the whole work area (the confirmation
    # and the queue) is another run, which re-reads again. Still not the router.
    assert len(resolved) == 2, resolved
    assert synced == []
    assert any("Logged: " in s.value for s in app.success)


def test_a_deactivated_user_loses_the_card_on_the_next_fragment_click(
    login: Login, world: World, session: Session, fragment_clicks: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pages import components

    app, user_id = _with_card(login, world)
    fragment_clicks.append(_form_fragment(app))
    runs: list[bool] = []  # for each resolution of the user: was it in a fragment rerun?
    real_resolve = components._resolve

    def resolving(now_: datetime) -> CurrentUser | None:
        runs.append(components.in_fragment_rerun())
        return real_resolve(now_)

    monkeypatch.setattr(components, "_resolve", resolving)
    deactivate_user(session=session, user_id=user_id, actor="test", now=now_utc())
    app.selectbox[0].select("no_answer").run()  # a click inside the card's fragment
    assert not app.exception
    shown = texts(app)
    # The fragment re-read the user, found none, and asked for a full rerun, which resolved
    # again (a fragment that only stopped would have left the rest of the page as it was):
    # the card is gone and the token forgotten.
    assert runs == [True, False], runs
    assert "Calling" not in shown and "My queue" not in shown
    assert [b.label for b in app.button if b.label in ("Log outcome", "Next task")] == []
    assert "session_token" not in app.session_state


def test_the_last_touch_is_summarised_and_the_table_built_when_opened(
    login: Login, world: World, session: Session,
) -> None:
    app, user_id = _with_card(login, world)
    task = session.exec(select(Task).where(Task.claimed_by == user_id)
                        .where(Task.status == TaskStatus.claimed)).one()
    session.add(Touch(task_id=task.task_id, practice_slug=task.practice_slug,
                      subject_type=task.subject_type, subject_id=task.subject_id,
                      coordinator_id=user_id, channel="call", disposition="voicemail",
                      minutes=3.0, started_at=now_utc() - timedelta(days=2)))
    session.commit()
    app.session_state["held_card"] = None  # build the card again (it is kept per claim)
    app.run()
    assert not app.exception
    assert "Last touch: " in texts(app) and "voicemail" in texts(app)
    assert app.dataframe == [] or all("how" not in df.value.columns for df in app.dataframe)
    [key] = [k for k in app.session_state if k.startswith("touches-")]
    app.session_state[key] = True  # the coordinator opens "Last touches"
    app.run()
    assert not app.exception
    [touches] = [df.value for df in app.dataframe if "how" in df.value.columns]
    assert len(touches) >= 1 and "call" in set(touches["how"])
