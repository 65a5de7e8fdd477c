"""One-click unsubscribe (RFC 8058): a signed, expiring token of its own kind revokes email consent.

The token's subject names one sent email (`message:<delivery key>`); the person it was sent
to loses email consent at once, their queued emails are cancelled, and a second request
changes nothing (no second consent event, no second audit entry).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from console.contact.consent import revoke_consent, revoked_channels
from console.identity.tokens import TokenKind, Unauthorised, decode_token
from console.messaging.delivery import message_by_key
from console.models.outreach import Message, MessageStatus
from console.models.practice import PracticeSettings
from console.platform.db import begin_write

SUBJECT_PREFIX = "message:"


@dataclass(frozen=True)
class UnsubscribeTarget:
    """Who a valid unsubscribe link is for: only what the confirmation page may show."""

    practice_name: str
    already_unsubscribed: bool


def _message(session: Session, token: str, now: datetime) -> Message:
    claims = decode_token(token, kind=TokenKind.unsubscribe, now=now)
    subject = str(claims["sub"])
    if not subject.startswith(SUBJECT_PREFIX):
        raise Unauthorised()
    message = message_by_key(session=session, delivery_key=subject[len(SUBJECT_PREFIX):])
    if message is None:
        raise Unauthorised()
    return message


def _unsubscribed(session: Session, message: Message) -> bool:
    return "email" in revoked_channels(session=session, practice_slug=message.practice_slug,
                                       subject_type=message.subject_type,
                                       subject_id=message.subject_id)


def _practice_name(session: Session, message: Message) -> str:
    practice = session.get(PracticeSettings, message.practice_slug)
    return practice.name if practice is not None else "this practice"


def unsubscribe_target(*, session: Session, token: str, now: datetime) -> UnsubscribeTarget:
    """What the confirmation page shows for a valid token; `Unauthorised` for any other."""
    message = _message(session, token, now)
    return UnsubscribeTarget(practice_name=_practice_name(session, message),
                             already_unsubscribed=_unsubscribed(session, message))


def unsubscribe(*, session: Session, token: str, now: datetime) -> UnsubscribeTarget:
    """Revoke email consent for the person the token's email went to (idempotent); commits."""
    message = _message(session, token, now)
    begin_write(session)
    target = UnsubscribeTarget(practice_name=_practice_name(session, message),
                               already_unsubscribed=_unsubscribed(session, message))
    if not target.already_unsubscribed:
        revoke_consent(session=session, practice_slug=message.practice_slug,
                       subject_type=message.subject_type, subject_id=message.subject_id,
                       source="unsubscribe:email", now=now, channels=("email",))
        session.execute(
            update(Message).execution_options(synchronize_session=False)
            .where(col(Message.practice_slug) == message.practice_slug)
            .where(col(Message.subject_type) == message.subject_type)
            .where(col(Message.subject_id) == message.subject_id)
            .where(col(Message.channel) == "email")
            .where(col(Message.status) == MessageStatus.queued)
            .values(status=MessageStatus.cancelled, last_error="unsubscribed")
        )
    session.commit()
    return target
