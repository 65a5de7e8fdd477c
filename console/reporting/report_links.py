"""Expiring, revocable read-only report links for client owners (a stored `jti` per link)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlmodel import Session

from console.identity import audit
from console.identity.audit import Action, Outcome
from console.identity.tokens import TokenKind, Unauthorised, decode_token, issue_token, new_token_id
from console.models.identity import ReportLink
from console.platform.errors import UserError
from loopdesk_core.clock import as_utc
from loopdesk_core.settings import get_settings

MAX_LINK_DAYS = 90
REPORT_PATH = "/api/v1/report"


@dataclass(frozen=True)
class IssuedLink:
    """A freshly issued report link; the token is shown once and never stored."""

    jti: str
    practice_slug: str
    token: str
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class VerifiedLink:
    """A report link that passed every check: which practice it opens, and its id."""

    jti: str
    practice_slug: str


def create_report_link(
    *, session: Session, practice_slug: str, days: int, actor: str, now: datetime
) -> IssuedLink:
    """Store a new link for one practice and sign its token (audited)."""
    if not 1 <= days <= MAX_LINK_DAYS:
        raise UserError(f"--days must be between 1 and {MAX_LINK_DAYS}")
    jti = new_token_id()
    expires_at = as_utc(now + timedelta(days=days))
    session.add(
        ReportLink(
            jti=jti,
            practice_slug=practice_slug,
            created_by=actor,
            created_at=as_utc(now),
            expires_at=expires_at,
        )
    )
    audit.record(
        session=session, actor=actor, action=Action.report_link_created,
        practice_slug=practice_slug, object_ref=f"report_link:{jti}", outcome=Outcome.success,
        now=now,
    )
    token = issue_token(
        kind=TokenKind.report, subject=f"practice:{practice_slug}", now=now,
        lifetime=timedelta(days=days), jti=jti, extra_claims={"practice": practice_slug},
    )
    session.commit()
    base = get_settings().link_base_url()
    url = f"{base}{REPORT_PATH}?{urlencode({'token': token})}"
    return IssuedLink(
        jti=jti, practice_slug=practice_slug, token=token, url=url, expires_at=expires_at
    )


def verify_report_link(*, session: Session, token: str, now: datetime) -> VerifiedLink:
    """The practice a report token opens; `Unauthorised` unless token AND stored row agree."""
    claims = decode_token(token, kind=TokenKind.report, now=now)
    jti, claimed = claims.get("jti"), claims.get("practice")
    if not isinstance(jti, str) or not isinstance(claimed, str):
        raise Unauthorised()
    row = session.get(ReportLink, jti)
    if row is None or row.revoked_at is not None or now >= as_utc(row.expires_at):
        raise Unauthorised()
    # The practice comes from the stored row; the signed claim must agree with it.
    if row.practice_slug != claimed or claims["sub"] != f"practice:{row.practice_slug}":
        raise Unauthorised()
    return VerifiedLink(jti=jti, practice_slug=row.practice_slug)


def revoke_report_link(*, session: Session, jti: str, actor: str, now: datetime) -> None:
    """Make a link stop working at once (audited)."""
    row = session.get(ReportLink, jti)
    if row is None:
        raise UserError("no report link with that id")
    if row.revoked_at is None:
        row.revoked_at = as_utc(now)
        session.add(row)
    audit.record(
        session=session, actor=actor, action=Action.report_link_revoked,
        practice_slug=row.practice_slug, object_ref=f"report_link:{jti}",
        outcome=Outcome.success, now=now,
    )
    session.commit()
