"""Shared test support for outreach: a real local SMTP server and a tiny literal world."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session

from console.messaging.channels import Channels
from console.messaging.channels.email import SmtpEmailChannel
from console.messaging.channels.sms import FileSmsProvider, SmsChannel
from console.platform.db import new_session
from tests.factories import ask_row, patient_row, practice_row, rates_row, snapshot


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps what it receives, or refuses every recipient."""

    refuse: bool = False
    refusal: str = "550 5.1.1 mailbox unavailable"
    received: list[tuple[list[str], str]] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: Any) -> str:
        """Accept or refuse the recipient."""
        if self.refuse:
            return self.refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message."""
        content = envelope.content.decode("utf-8", "replace")
        with self._lock:
            self.received.append((list(envelope.rcpt_tos), content))
            self.senders.append(str(envelope.mail_from))
        return "250 OK"

    def recipients(self) -> list[str]:
        """Every recipient of every message received."""
        return [to for tos, _ in self.received for to in tos]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(refuse: bool = False, refusal: str = "550 5.1.1 mailbox unavailable"
                ) -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on 127.0.0.1 for the length of the block (refusing with `refusal`)."""
    mailbox = Mailbox(refuse=refuse, refusal=refusal)
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def channels_for(port: int, home: Path) -> tuple[Channels, FileSmsProvider]:
    """Email to the local server, SMS into a file under the test home."""
    sms = FileSmsProvider(home / "outbox" / "sms.jsonl")
    email = SmtpEmailChannel(host="127.0.0.1", port=port, sender="referrals@loopdesk.test")
    return Channels(email=email, sms=SmsChannel(sms)), sms


def world_snapshot(**extra: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """Practice smile-ny: p-email (email consent), p-sms (text only), p-call (call only)."""
    patients = [
        patient_row("p-email", email="ann@example.test", phone="+12125550101",
                    consent_text=False, first_name="Ann"),
        patient_row("p-sms", email="bob@example.test", phone="+12125550102",
                    consent_email=False, first_name="Bob"),
        patient_row("p-call", email="cy@example.test", phone="+12125550103",
                    consent_email=False, consent_text=False, first_name="Cy"),
    ]
    asks = [
        ask_row("p-email", "t-1", consent_text=False),
        ask_row("p-sms", "t-2", consent_email=False),
        ask_row("p-call", "t-3", consent_email=False, consent_text=False),
    ]
    tables: dict[str, list[dict[str, Any]]] = {
        "mart_practices": [practice_row()], "mart_patients": patients,
        "mart_ask_candidates": asks, "mart_practice_rates": [rates_row()],
    }
    for name, rows in extra.items():
        tables[name] = tables.get(name, []) + rows
    return snapshot(**tables)


def session_on(engine: Engine) -> Session:
    """A fresh session (one per thread in concurrency tests)."""
    return new_session(engine)
