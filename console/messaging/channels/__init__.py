"""Delivery channels for outbox messages: email over SMTP and SMS through a provider."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class SendError(Exception):
    """A message could not be handed to its channel; `reason` is safe to store (no PHI).

    `permanent`: retrying will not help (a 5xx refusal); `undeliverable`: the refusal was about
    the recipient's address itself, so nothing more should be sent to it on this channel.
    """

    def __init__(self, reason: str, *, permanent: bool = False,
                 undeliverable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent or undeliverable
        self.undeliverable = undeliverable


@dataclass(frozen=True)
class MessageParts:
    """What an email carries besides recipient, subject and text; the outbox sets it per message.

    `reply_to` is the message's own reply-token address, also used as the envelope sender so
    that bounces come back to it. More MIME parts (attachments) belong here.
    """

    sender_name: str = ""
    html: str | None = None
    reply_to: str | None = None
    message_id: str | None = None
    unsubscribe_mailto: str | None = None
    unsubscribe_url: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file carried by a message (the outbox passes it only when a message has one)."""

    filename: str
    content_type: str
    content: bytes


class Channel(Protocol):
    """Something that hands one message to a recipient or raises SendError."""

    def send(self, *, recipient: str, subject: str, body: str,
             parts: MessageParts | None = None,
             attachments: Sequence[Attachment] = ()) -> None:
        """Deliver one message (with its email parts and attachments, if the channel carries
        them)."""
        ...


@dataclass(frozen=True)
class Channels:
    """The channels an outbox pass may use, by name (`email`, `sms`)."""

    email: Channel
    sms: Channel

    def get(self, name: str) -> Channel:
        """The channel called `name`."""
        if name == "email":
            return self.email
        if name == "sms":
            return self.sms
        raise ValueError(f"unknown channel {name!r}")


def default_channels() -> Channels:
    """SMTP from settings and the development SMS file provider under home."""
    from console.messaging.channels.email import SmtpEmailChannel
    from console.messaging.channels.sms import SmsChannel, default_sms_provider

    return Channels(email=SmtpEmailChannel.from_settings(),
                    sms=SmsChannel(default_sms_provider()))
