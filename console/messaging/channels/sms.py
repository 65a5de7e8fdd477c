"""SMS: a small provider protocol and a development provider appending to a file (no network)."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from console.messaging.channels import Attachment, MessageParts, SendError
from loopdesk_core.settings import get_settings

SMS_MAX_CHARS = 1600


class SmsProvider(Protocol):
    """An SMS gateway: sends `body` to the E.164 number `to` or raises SendError."""

    def send_sms(self, *, to: str, body: str) -> None:
        """Send one text message."""
        ...


@dataclass
class FileSmsProvider:
    """Development provider: each text becomes one JSON line in a file under home."""

    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send_sms(self, *, to: str, body: str) -> None:
        """Append the text to the file (one line, so concurrent writers do not interleave)."""
        line = json.dumps({"to": to, "body": body}) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
        except OSError as error:
            raise SendError(f"sms file provider: {type(error).__name__}") from error

    def sent(self) -> list[dict[str, str]]:
        """Every text written so far (for development and tests)."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]


def default_sms_provider() -> FileSmsProvider:
    """The development provider writing to `<home>/outbox/sms.jsonl`."""
    return FileSmsProvider(get_settings().resolved_home / "outbox" / "sms.jsonl")


@dataclass(frozen=True)
class SmsChannel:
    """Adapts an SmsProvider to the outbox's Channel interface (SMS has no subject)."""

    provider: SmsProvider

    def send(self, *, recipient: str, subject: str, body: str,
             parts: MessageParts | None = None,
             attachments: Sequence[Attachment] = ()) -> None:
        """Send the body as a text; too-long bodies are refused, not truncated silently."""
        del subject, parts
        if attachments:
            raise SendError("sms cannot carry attachments", permanent=True)
        if len(body) > SMS_MAX_CHARS:
            raise SendError("sms body too long", permanent=True)
        self.provider.send_sms(to=recipient, body=body)
