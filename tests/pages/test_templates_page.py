"""Templates page (managers): live preview, refusal of a template without its links, saving;
Data quality shows undeliverable addresses per practice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session, select

from console.models.identity import Role
from console.models.outreach import OutreachSettings, UndeliverableAddress
from tests.pages.conftest import Login, World, frames_text, now_utc, registered, texts


@pytest.fixture
def restore_templates(world: World, session: Session) -> Iterator[str]:
    """The first practice, with its templates reset afterwards (the world is shared)."""
    slug = sorted(world.practices)[0]
    yield slug
    session.rollback()
    stored = session.get(OutreachSettings, slug)
    if stored is not None:
        session.delete(stored)
        session.commit()


def _area(app: object, label: str) -> object:
    return next(a for a in app.text_area if a.label == label)  # type: ignore[attr-defined]


def test_manager_sees_a_live_preview_for_a_sample_patient(login: Login, world: World) -> None:
    app, _ = login(Role.manager, [], "pages/templates.py")
    assert not app.exception
    assert [t.value for t in app.title] == ["Templates"]
    shown = texts(app)
    assert "Alex" in shown and "Unsubscribe" in shown and "Reply STOP" in shown
    assert world.practices[app.selectbox[0].value] in shown
    _area(app, "Email text").input("Dear $first_name,\n$link\nBye! $unsubscribe_url").run()
    assert not app.exception
    assert "Dear Alex," in texts(app) and not app.warning


def test_a_template_without_its_links_is_refused(login: Login, session: Session,
                                                 restore_templates: str) -> None:
    app, _ = login(Role.manager, [], "pages/templates.py")
    _area(app, "Email HTML").input("<p>Hi $first_name, <a href=\"$link\">share</a></p>").run()
    _area(app, "Text message").input("Hi $first_name, tell a friend!").run()
    warnings = " ".join(str(w.value) for w in app.warning)
    assert "$unsubscribe_url" in warnings and "$link" in warnings and "STOP" in warnings
    next(b for b in app.button if b.label == "Save templates").click().run()
    assert not app.exception
    assert "Not saved" in texts(app)
    session.rollback()
    assert session.get(OutreachSettings, restore_templates) is None


def test_a_valid_template_is_saved_for_that_practice(login: Login, session: Session,
                                                     restore_templates: str) -> None:
    app, _ = login(Role.manager, [], "pages/templates.py")
    app.selectbox[0].set_value(restore_templates).run()
    app.text_input[0].input("$first_name, a favour from $practice_name").run()
    _area(app, "Text message").input("$practice_name: $link Reply STOP to opt out").run()
    next(b for b in app.button if b.label == "Save templates").click().run()
    assert not app.exception
    assert "Saved the templates" in texts(app)
    session.rollback()
    stored = session.get(OutreachSettings, restore_templates, populate_existing=True)
    assert stored is not None
    assert stored.ask_email_subject == "$first_name, a favour from $practice_name"
    assert stored.ask_sms_body == "$practice_name: $link Reply STOP to opt out"


def test_the_templates_page_is_for_managers_only(login: Login, world: World) -> None:
    coordinator, _ = login(Role.coordinator, sorted(world.practices)[:1])
    owner, _ = login(Role.client_owner, sorted(world.practices)[:1])
    manager, _ = login(Role.manager, [])
    assert "templates.py" not in registered(coordinator)
    assert "templates.py" not in registered(owner)
    assert "templates.py" in registered(manager)


def test_data_quality_counts_undeliverable_addresses_per_practice(
    login: Login, world: World, session: Session,
) -> None:
    slug = sorted(world.practices)[1]
    rows = [UndeliverableAddress(practice_slug=slug, channel="email", address=address,
                                 reason="bounced: 5.1.1", marked_at=now_utc())
            for address in ("a@example.test", "b@example.test")]
    session.add_all(rows)
    session.commit()
    try:
        app, _ = login(Role.manager, [], "pages/data_quality.py")
        assert not app.exception
        shown = frames_text(app)
        assert f"{world.practices[slug]},email,2" in shown
        assert "a@example.test" not in shown + texts(app)  # counts, never addresses
        assert app.get("vega_lite_chart") or app.get("arrow_vega_lite_chart")
    finally:
        for row in session.exec(select(UndeliverableAddress)).all():
            session.delete(row)
        session.commit()
