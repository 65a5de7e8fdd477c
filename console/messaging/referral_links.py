"""Personal referral links: short codes whose HMAC binds practice, referrer and expiry.

A code is `<id>.<mac>`: `id` is 16 random bytes (not enumerable) naming a stored row, and
`mac` is an HMAC-SHA256 over the id, practice, referrer and expiry with the signing key, so
an edited code, a code moved to another practice, or a forged row never verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from console.models.outreach import ReferralCode
from console.platform.db import begin_write
from loopdesk_core.clock import as_utc
from loopdesk_core.settings import get_settings

CODE_LIFETIME = timedelta(days=365)
ID_BYTES = 16
MAC_BYTES = 16
MAX_CODE_CHARS = 80


class InvalidCode(Exception):
    """The code is unknown, edited, forged, revoked, expired or for another practice."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _mac(code: ReferralCode) -> str:
    message = "|".join(
        ("referral", code.code_id, code.practice_slug, code.patient_id,
         str(int(as_utc(code.expires_at).timestamp())))
    ).encode()
    digest = hmac.new(get_settings().signing_key(), message, hashlib.sha256).digest()
    return _b64(digest[:MAC_BYTES])


def code_text(code: ReferralCode) -> str:
    """The shareable code of a stored row."""
    return f"{code.code_id}.{_mac(code)}"


def referral_url(code: ReferralCode) -> str:
    """The public link `{public_base_url}/r/{code}`."""
    return f"{get_settings().link_base_url()}/r/{code_text(code)}"


def referral_code_for(
    *, session: Session, practice_slug: str, patient_id: str, now: datetime,
    lifetime: timedelta = CODE_LIFETIME,
) -> ReferralCode:
    """The referrer's live code at the practice, creating (or renewing) one; commits."""
    begin_write(session)
    existing = session.exec(
        select(ReferralCode)
        .where(ReferralCode.practice_slug == practice_slug)
        .where(ReferralCode.patient_id == patient_id)
    ).first()
    if existing is not None and not existing.revoked and as_utc(existing.expires_at) > now:
        return existing
    if existing is not None:
        # A renewed link gets a new id, so the old code stops verifying.
        session.delete(existing)
        session.flush()
    code = ReferralCode(code_id=_b64(secrets.token_bytes(ID_BYTES)), practice_slug=practice_slug,
                        patient_id=patient_id, created_at=now, expires_at=now + lifetime)
    session.add(code)
    try:
        session.commit()
    except IntegrityError:
        # A concurrent pass created it first: use theirs.
        session.rollback()
        return referral_code_for(session=session, practice_slug=practice_slug,
                                 patient_id=patient_id, now=now, lifetime=lifetime)
    return code


def verify_code(*, session: Session, code: str, now: datetime) -> ReferralCode:
    """The stored row a valid code names; anything else raises InvalidCode."""
    if not isinstance(code, str) or len(code) > MAX_CODE_CHARS or code.count(".") != 1:
        raise InvalidCode()
    code_id, mac = code.split(".")
    if not code_id or not mac:
        raise InvalidCode()
    row = session.get(ReferralCode, code_id)
    if row is None:
        raise InvalidCode()
    # Constant-time comparison; the MAC also proves practice and referrer were not moved.
    if not hmac.compare_digest(_mac(row).encode(), mac.encode()):
        raise InvalidCode()
    if row.revoked or as_utc(row.expires_at) <= now:
        raise InvalidCode()
    return row
