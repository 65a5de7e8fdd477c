"""Delivery channels for outbox messages: email over SMTP and SMS through a provider."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class SendError(Exception):
    """A message could not be handed to its channel; `reason` is safe to store (no PHI)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Attachment:
    """A file carried by a message (the outbox passes it only when a message has one)."""

    filename: str
    content_type: str
    content: bytes


class Channel(Protocol):
    """Something that hands one message to a recipient or raises SendError."""

    def send(self, *, recipient: str, subject: str, body: str,
             attachments: Sequence[Attachment] = ()) -> None:
        """Deliver one message (with its attachments, if the channel can carry them)."""
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
    from console.channels.email import SmtpEmailChannel
    from console.channels.sms import SmsChannel, default_sms_provider

    return Channels(email=SmtpEmailChannel.from_settings(),
                    sms=SmsChannel(default_sms_provider()))
