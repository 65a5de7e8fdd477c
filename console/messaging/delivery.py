"""Delivery status: each email's addresses (reply token, Message-ID, unsubscribe) and addresses
that do not work (a permanent refusal or a bounce), which the outbox then stops sending to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from console.identity.tokens import (
    TokenKind,
    Unauthorised,
    decode_reply_token,
    issue_reply_token,
    issue_token,
    new_delivery_key,
)
from console.models.outreach import Message, MessageStatus, UndeliverableAddress
from loopdesk_core.settings import get_settings

UNSUBSCRIBE_LIFETIME = timedelta(days=365)
UNDELIVERABLE = "address undeliverable"


@dataclass(frozen=True)
class EmailIdentity:
    """What names one email: its delivery key and its one-click unsubscribe URL."""

    delivery_key: str
    unsubscribe_url: str


def unsubscribe_url(*, delivery_key: str, now: datetime) -> str:
    """`{public_base_url}/u/{token}`: a signed, expiring unsubscribe token for this message."""
    token = issue_token(kind=TokenKind.unsubscribe, subject=f"message:{delivery_key}", now=now,
                        lifetime=UNSUBSCRIBE_LIFETIME)
    return f"{get_settings().link_base_url()}/u/{token}"


def new_email_identity(*, now: datetime) -> EmailIdentity:
    """A fresh delivery key and the unsubscribe URL that names it."""
    key = new_delivery_key()
    return EmailIdentity(delivery_key=key, unsubscribe_url=unsubscribe_url(delivery_key=key,
                                                                           now=now))


def reply_address(delivery_key: str) -> str:
    """`r-<key>-<mac>@<inbound domain>`: where replies and bounces to this message go."""
    return f"{issue_reply_token(delivery_key)}@{get_settings().inbound_email_domain.lower()}"


def rfc_message_id(delivery_key: str) -> str:
    """The Message-ID header on the agency's domain."""
    return f"<{delivery_key}@{get_settings().resolved_mail_domain}>"


def delivery_key_of_address(address: str) -> str | None:
    """The delivery key a reply-token address names, or None for any other address."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at or domain.lower() != get_settings().inbound_email_domain.lower():
        return None
    try:
        return decode_reply_token(local)
    except Unauthorised:  # forged, edited or not a reply token at all
        return None


def message_by_key(*, session: Session, delivery_key: str) -> Message | None:
    """The outbox message a delivery key names."""
    return session.exec(select(Message).where(Message.delivery_key == delivery_key)).first()


def is_undeliverable(*, session: Session, channel: str, address: str) -> bool:
    """Whether a send to this address was refused permanently or bounced (at any practice)."""
    return session.exec(
        select(UndeliverableAddress.address).where(UndeliverableAddress.channel == channel)
        .where(UndeliverableAddress.address == address)
    ).first() is not None


def mark_undeliverable(*, session: Session, message: Message, reason: str,
                       now: datetime) -> None:
    """Record the message's address as undeliverable for its practice (once); caller commits."""
    key = (message.practice_slug, message.channel, message.recipient)
    if session.get(UndeliverableAddress, key) is not None:
        return
    try:
        with session.begin_nested():
            session.add(UndeliverableAddress(
                practice_slug=message.practice_slug, channel=message.channel,
                address=message.recipient, reason=reason[:200], message_id=message.message_id,
                marked_at=now))
    except IntegrityError:  # marked by a concurrent pass
        pass


def fail_queued_to(*, session: Session, channel: str, address: str) -> int:
    """Fail queued messages to an undeliverable address (an ask then becomes a call)."""
    result = session.execute(
        update(Message).execution_options(synchronize_session=False)
        .where(col(Message.channel) == channel).where(col(Message.recipient) == address)
        .where(col(Message.status) == MessageStatus.queued)
        .values(status=MessageStatus.failed, last_error=UNDELIVERABLE)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def record_bounce(*, session: Session, message: Message, reason: str, now: datetime) -> bool:
    """A bounce (DSN) for a sent message: failed with the reason, address undeliverable.

    Idempotent; returns whether anything changed. The caller commits.
    """
    changed = False
    if message.status in (MessageStatus.sent, MessageStatus.sending):
        message.status, message.last_error = MessageStatus.failed, reason[:200]
        session.add(message)
        changed = True
    if not is_undeliverable(session=session, channel=message.channel, address=message.recipient):
        changed = True
    session.flush()
    mark_undeliverable(session=session, message=message, reason=reason, now=now)
    changed = bool(fail_queued_to(session=session, channel=message.channel,
                                  address=message.recipient)) or changed
    return changed


def undeliverable_by_channel(*, session: Session, practice_slugs: list[str]
                             ) -> list[tuple[str, str, int]]:
    """(practice, channel, count) of undeliverable addresses, for the given practices."""
    if not practice_slugs:
        return []
    rows = session.exec(
        select(UndeliverableAddress.practice_slug, UndeliverableAddress.channel, func.count())
        .where(col(UndeliverableAddress.practice_slug).in_(practice_slugs))
        .group_by(col(UndeliverableAddress.practice_slug), col(UndeliverableAddress.channel))
    ).all()
    return [(slug, channel, int(count)) for slug, channel, count in rows]
