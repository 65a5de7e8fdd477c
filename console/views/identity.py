"""Logging in and out from the console, resolving the session, and which pages each role sees."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from console.access import CurrentUser
from console.auth import authenticate, end_session, resolve_session, start_session
from console.db import get_engine, init_db, new_session, retrying
from console.models.identity import Role

# Engines whose tables this process has already checked (URLs only, no user data).
_READY: set[str] = set()


@contextmanager
def store() -> Iterator[Session]:
    """A session on the operational store (tables checked once per process), closed afterwards."""
    engine = get_engine()
    url = str(engine.url)
    if url not in _READY:
        init_db(engine)
        _READY.add(url)
    session = new_session(engine)
    try:
        yield session
    finally:
        session.close()


@dataclass(frozen=True)
class PageSpec:
    """One console page: its file under pages/, its title and icon."""

    path: str
    title: str
    icon: str


QUEUE = PageSpec("pages/my_queue.py", "My queue", ":material/call:")
LEADS = PageSpec("pages/leads.py", "Leads", ":material/person_add:")
LOOPS = PageSpec("pages/loop_closures.py", "Loop closures", ":material/sync:")
SLA = PageSpec("pages/sla_board.py", "SLA board", ":material/timer:")
CAPACITY = PageSpec("pages/capacity.py", "Capacity", ":material/bar_chart:")
CLIENTS = PageSpec("pages/clients.py", "Clients", ":material/store:")
USERS = PageSpec("pages/users.py", "Users", ":material/group:")
QUALITY = PageSpec("pages/data_quality.py", "Data quality", ":material/rule:")
TEMPLATES = PageSpec("pages/templates.py", "Templates", ":material/mail:")
AUDIT = PageSpec("pages/audit_log.py", "Audit log", ":material/history:")
LINKS = PageSpec("pages/report_links.py", "Report links", ":material/link:")
REPORT = PageSpec("pages/report.py", "Report", ":material/insights:")
LEARNED = PageSpec("pages/learned.py", "What the queue learned", ":material/school:")
STAFFING = PageSpec("pages/staffing.py", "Staffing what-if", ":material/groups:")

_MANAGER_PAGES = (SLA, CAPACITY, CLIENTS, TEMPLATES, USERS, QUALITY, AUDIT, LEARNED,
                  STAFFING, LINKS)
PAGES_BY_ROLE: dict[Role, tuple[PageSpec, ...]] = {
    Role.coordinator: (QUEUE, LEADS, LOOPS),
    Role.manager: _MANAGER_PAGES,
    Role.admin: _MANAGER_PAGES,
    Role.client_owner: (REPORT,),
}


def pages_for(user: CurrentUser) -> tuple[PageSpec, ...]:
    """The pages the user's role may open (the navigation registers only these)."""
    return PAGES_BY_ROLE.get(user.role, ())


def log_in(*, email: str, password: str, client_key: str, now: datetime) -> str:
    """A session token for these credentials; LoginFailed / LoginLocked otherwise."""
    with store() as session:
        user = authenticate(
            session=session, email=email, password=password, client_key=client_key, now=now
        )
        return retrying(session, lambda: start_session(session=session, user=user, now=now))


def who_is(*, token: str | None, now: datetime) -> CurrentUser | None:
    """The user behind a session token, re-read from the store now; None when not logged in."""
    if not token:
        return None
    with store() as session:
        return retrying(session, lambda: resolve_session(session=session, token=token, now=now))


def log_out(*, token: str, now: datetime) -> None:
    """End the session the token names."""
    with store() as session:
        retrying(session, lambda: end_session(session=session, token=token, now=now))
