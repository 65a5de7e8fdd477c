"""A small built world (3 practices, a few months) shared by the page tests, and logged-in users."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from console.identity.auth import start_session
from console.models.identity import Role, User, UserPractice
from console.models.practice import PracticeSettings
from console.platform.db import get_engine, init_db, new_session
from tests.worlds import build_generated_world, point_at_home

# Thursday 13:00 in New York, 10:00 in Los Angeles: every demo practice is inside call hours.
PAGES_NOW = "2026-11-26T18:00:00+00:00"
APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
_emails = itertools.count(1)


@dataclass(frozen=True)
class World:
    """Where the built data lives and the practices it holds (slug → name)."""

    home: Path
    practices: dict[str, str]




@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Generate 3 practices over 6 months, ingest them and build everything, once."""
    from loopdesk_core.clock import now

    root = tmp_path_factory.mktemp("pages-world")
    home = root / "home"
    with pytest.MonkeyPatch.context() as patch:
        point_at_home(patch, home, PAGES_NOW)
        build_generated_world(root / "drop", practices=3, seed=7, months=6, now=now())
        with new_session(get_engine()) as session:
            names = {p.practice_slug: p.name for p in session.exec(select(PracticeSettings))}
    yield World(home=home, practices=names)


@pytest.fixture(autouse=True)
def _world_env(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point settings at the shared world for this test."""
    point_at_home(monkeypatch, world.home, PAGES_NOW)


@pytest.fixture
def session(world: World) -> Iterator[Session]:
    """A session on the world's operational store."""
    engine = get_engine()
    init_db(engine)
    with new_session(engine) as db:
        yield db


def make_user(session: Session, role: Role, practices: list[str]) -> User:
    """A stored user (no password needed: tests log in by session token)."""
    from loopdesk_core.clock import now

    user = User(email=f"{role.value}{next(_emails)}@agency.test", role=role.value,
                password_hash="not-a-real-hash", active=True, created_at=now())
    session.add(user)
    session.flush()
    for slug in practices:
        session.add(UserPractice(user_id=user.user_id or 0, practice_slug=slug))
    session.commit()
    return user


def token_for(session: Session, user: User) -> str:
    """A live session token for the user, as the login form would keep it."""
    from loopdesk_core.clock import now

    return start_session(session=session, user=user, now=now())


Login = Callable[..., tuple[AppTest, User]]


@pytest.fixture
def login(session: Session) -> Login:
    """An AppTest logged in as a new user of `role` with `practices`, after its first run."""

    def make(role: Role, practices: list[str], page: str | None = None) -> tuple[AppTest, User]:
        user = make_user(session, role, practices)
        app = AppTest.from_file(APP, default_timeout=60)
        app.session_state["session_token"] = token_for(session, user)
        app.run()
        if page is not None:
            app.switch_page(page).run()
        return app, user

    return make


def texts(app: AppTest) -> str:
    """Everything the page shows as plain text, titles and metrics, joined for searching."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "text", "caption", "markdown", "success",
                 "error", "info", "warning"):
        parts += [str(element.value) for element in getattr(app, kind)]
    parts += [f"{m.label} {m.value}" for m in app.metric]
    return "\n".join(parts)


def frames_text(app: AppTest) -> str:
    """Every table cell on the page, as text."""
    return "\n".join(df.value.to_csv() for df in app.dataframe)


def registered(app: AppTest) -> set[str]:
    """The page files the navigation registered for this session."""
    return {
        Path(str(info["script_path"])).name
        for info in app._registered_pages.values()
        if info.get("script_path")
    }


def now_utc() -> datetime:
    """The pinned clock of the page tests."""
    return datetime.fromisoformat(PAGES_NOW)
