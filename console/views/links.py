"""Report links a manager hands to client owners: list, create (URL shown once), revoke.

Creating and revoking are audited by console.reporting.report_links (`report_link_created`,
`report_link_revoked`); the list shows who created each link by email, never a raw id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from console.identity.access import ADMIN_ROLES, CurrentUser, require_role
from console.models.identity import ReportLink, User
from console.models.practice import PracticeSettings
from console.platform.db import retrying
from console.platform.errors import UserError
from console.platform.wording import ago, until
from console.reporting.report_links import IssuedLink, create_report_link, revoke_report_link
from loopdesk_core.clock import as_utc


@dataclass(frozen=True)
class LinkLine:
    """One report link as the page lists it."""

    jti: str  # for the revoke action only (never shown)
    created: str
    created_by: str
    expires: str
    status: str

    @property
    def label(self) -> str:
        """How the revoke picker names it."""
        return f"created {self.created} by {self.created_by} ({self.status})"


def _manager_of(user: CurrentUser, practice_slug: str) -> None:
    require_role(user, ADMIN_ROLES)
    if not user.scope.allows(practice_slug):
        raise UserError("that practice is not yours to manage")


def _who(session: Session, actor: str) -> str:
    if actor.startswith("user:") and actor[5:].isdigit():
        person = session.get(User, int(actor[5:]))
        return person.email if person is not None else "a removed user"
    return "command line" if actor == "cli" else actor.replace("_", " ")


def link_practices(*, session: Session, user: CurrentUser) -> dict[str, str]:
    """The practices whose links the manager may manage (slug → name)."""
    require_role(user, ADMIN_ROLES)
    return {p.practice_slug: p.name for p in session.exec(
        select(PracticeSettings).order_by(col(PracticeSettings.name)))
        if user.scope.allows(p.practice_slug)}


def list_links(*, session: Session, user: CurrentUser, practice_slug: str,
               now: datetime) -> list[LinkLine]:
    """A practice's report links, live ones first, newest first."""
    _manager_of(user, practice_slug)
    rows = session.exec(select(ReportLink).where(ReportLink.practice_slug == practice_slug)
                        .order_by(col(ReportLink.created_at).desc())).all()
    lines = []
    for row in rows:
        expires = as_utc(row.expires_at)
        if row.revoked_at is not None:
            status = f"revoked {ago(now - as_utc(row.revoked_at))}"
        elif expires <= now:
            status = "expired"
        else:
            status = f"active, expires {until(expires - now)}"
        lines.append(LinkLine(jti=row.jti, created=f"{as_utc(row.created_at):%b %d %Y %H:%M} UTC",
                              created_by=_who(session, row.created_by),
                              expires=f"{expires:%b %d %Y}", status=status))
    lines.sort(key=lambda line: not line.status.startswith("active"))
    return lines


def new_link(*, session: Session, user: CurrentUser, practice_slug: str, days: int,
             now: datetime) -> IssuedLink:
    """Create a link (audited); its URL is shown once and never stored."""
    _manager_of(user, practice_slug)
    return retrying(session, lambda: create_report_link(
        session=session, practice_slug=practice_slug, days=days, actor=user.actor, now=now))


def end_link(*, session: Session, user: CurrentUser, practice_slug: str, jti: str,
             now: datetime) -> None:
    """Revoke one of the practice's links (audited); it stops working at once."""
    _manager_of(user, practice_slug)
    row = session.get(ReportLink, jti)
    if row is None or row.practice_slug != practice_slug:
        raise UserError("no such report link for that practice")
    retrying(session, lambda: revoke_report_link(session=session, jti=jti, actor=user.actor,
                                                 now=now))
