"""One served world for the whole browser suite (built once, users per test)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.support import CHROMIUM, World, add_user, build_world, python, serving

# Thursday 13:00 in New York, 11:00 in Denver: the demo practices are open and callable.
E2E_NOW = "2026-11-26T18:00:00+00:00"
# The third practice is moved to Tokyo (03:00 there): its calling hours have not begun.
QUIET_ZONE = "Asia/Tokyo"


@dataclass(frozen=True)
class Served:
    """The served console and its world."""

    url: str
    world: World

    @property
    def main(self) -> str:
        """The practice whose non-ask work is set aside (the main flow's)."""
        return self.world.slugs[0]

    @property
    def busy(self) -> str:
        """The practice whose leads are called from the Leads page."""
        return self.world.slugs[1]

    @property
    def quiet(self) -> str:
        """The practice outside calling hours."""
        return self.world.slugs[2]


def browser_or_skip() -> None:
    """Run only where Debian's Chromium is; under CI its absence fails the suite."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: the e2e suite must run in CI")
    pytest.skip(f"{CHROMIUM} not installed")


def _asks_first(world: World, slug: str) -> None:
    """Set the practice's lead and loop work aside so its next call is an ask."""
    python(world.env, (
        "from datetime import datetime, timedelta\n"
        "from sqlmodel import select\n"
        "from console.platform.db import session_scope\n"
        "from console.models.work import Task\n"
        "with session_scope() as s:\n"
        f"    for t in s.exec(select(Task).where(Task.practice_slug == {slug!r})"
        ".where(Task.status == 'open').where(Task.kind != 'ask')).all():\n"
        f"        t.snoozed_until = datetime.fromisoformat({E2E_NOW!r}) + timedelta(days=30)\n"
        "        s.add(t)\n"
        "    s.commit()\n"
    ))


def _move_to(world: World, slug: str, zone: str) -> None:
    """Put a practice (and its tasks) in another time zone."""
    python(world.env, (
        "from sqlalchemy import text\n"
        "from console.platform.db import session_scope\n"
        "with session_scope() as s:\n"
        "    s.execute(text('update practice_settings set timezone = :z where practice_slug = :p'),"
        f" {{'z': {zone!r}, 'p': {slug!r}}})\n"
        "    s.execute(text('update tasks set practice_tz = :z where practice_slug = :p'),"
        f" {{'z': {zone!r}, 'p': {slug!r}}})\n"
        "    s.commit()\n"
    ))


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`loopdesk serve` over a small built world with a user per role and test."""
    browser_or_skip()
    world = build_world(tmp_path_factory.mktemp("e2e"), now=E2E_NOW)
    main, busy, quiet = world.slugs
    _asks_first(world, main)
    _move_to(world, quiet, QUIET_ZONE)
    for email, role, slugs in (
        ("coord@e2e.test", "coordinator", [main]),
        ("owner@e2e.test", "client_owner", [main]),
        ("card@e2e.test", "coordinator", [main]),
        ("ann@e2e.test", "coordinator", [main]),
        ("ben@e2e.test", "coordinator", [main]),
        ("leads@e2e.test", "coordinator", [busy]),
        ("night@e2e.test", "coordinator", [quiet]),
        ("manager@e2e.test", "manager", []),
        ("walker@e2e.test", "coordinator", [main, busy, quiet]),
        ("gone@e2e.test", "coordinator", [busy]),
    ):
        add_user(world, email, role, *slugs)
    with serving(world, "e2e-server.log") as url:
        yield Served(url=url, world=world)
