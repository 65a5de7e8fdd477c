"""SECURITY 10: no page renders raw HTML; data that looks like HTML shows as text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from console.models.identity import Role
from console.models.practice import PracticeSettings
from pages.registry import PAGES_BY_ROLE
from tests.pages.conftest import Login, World, frames_text, texts

XSS = "<img src=x onerror=alert(1)>"


def _no_raw_html(app: AppTest) -> None:
    assert not app.exception
    assert all(not md.proto.allow_html for md in app.markdown)
    assert all(not c.proto.allow_html for c in app.caption)
    assert not app.get("html")


@pytest.mark.parametrize("role", [Role.coordinator, Role.manager, Role.client_owner])
def test_every_page_of_every_role_renders_without_raw_html(
    login: Login, world: World, role: Role
) -> None:
    practices = [] if role is Role.manager else sorted(world.practices)[:1]
    for spec in PAGES_BY_ROLE[role]:
        app, _ = login(role, practices, spec.path)
        _no_raw_html(app)


@pytest.fixture
def html_named_practice(world: World, session: Session) -> Iterator[str]:
    """One practice whose name and share blurb look like HTML, restored afterwards."""
    slug = sorted(world.practices)[0]
    practice = session.get(PracticeSettings, slug)
    assert practice is not None
    name, blurb = practice.name, practice.share_blurb
    practice.name, practice.share_blurb = f"Clinic {XSS}", f"Share {XSS}"
    session.add(practice)
    session.commit()
    yield slug
    practice.name, practice.share_blurb = name, blurb
    session.add(practice)
    session.commit()


def test_html_in_practice_settings_shows_as_text(login: Login, html_named_practice: str) -> None:
    slug = html_named_practice
    owner, _ = login(Role.client_owner, [slug], "pages/report.py")
    _no_raw_html(owner)
    assert f"Share {XSS}" in texts(owner) + frames_text(owner)
    manager, _ = login(Role.manager, [], "pages/clients.py")
    _no_raw_html(manager)
    shown = texts(manager) + frames_text(manager) + " ".join(
        str(box.options) for box in manager.selectbox)
    assert f"Clinic {XSS}" in shown
