"""The inbound SMTP receiver (`loopdesk inbound-smtp`): replies and bounces to reply tokens.

Built on aiosmtpd. Mail is accepted only for `r-<key>-<mac>@<LOOPDESK_INBOUND_EMAIL_DOMAIN>`
addresses whose token verifies and names a message we sent; any other recipient is refused at
`RCPT TO`. A delivery status notification (RFC 3464, `multipart/report; report-type=
delivery-status`) reporting a permanent failure marks the message failed and its address
undeliverable; an automatic reply (RFC 3834 `Auto-Submitted`) is accepted and ignored; anything
else is a reply and goes to the same handler as texts and `loopdesk inbound`, once per
Message-ID.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any

from aiosmtpd.controller import Controller
from sqlmodel import Session

from console.messaging.delivery import delivery_key_of_address, message_by_key, record_bounce
from console.outreach.replies import record_inbound
from console.outreach.routes import LookupFactory

LOGGER = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 2 * 1024 * 1024
REFUSED = "550 5.1.1 No such mailbox here"
# RFC 3464 and RFC 6533 (internationalised); some MTAs label it text/.
DSN_PARTS = ("message/delivery-status", "message/global-delivery-status", "text/delivery-status")
# Where the new text of a reply ends and the quoted message begins.
QUOTE_START = re.compile(
    r"^(>|On .+wrote:\s*$|-{2,}\s*Original Message\s*-{2,}|_{10,}|From:\s.+@)", re.IGNORECASE
)
REPLY_PREFIX = re.compile(r"^\s*(re|fw|fwd|aw|sv|tr)\s*:", re.IGNORECASE)
STATUS_FIELD = re.compile(r"^Status:\s*([245])\.(\d{1,3})\.(\d{1,3})", re.IGNORECASE | re.MULTILINE)
ACTION_FIELD = re.compile(r"^Action:\s*([a-z]+)", re.IGNORECASE | re.MULTILINE)
# Bounces that are not RFC 3464 reports (older MTAs): recognised by sender and subject.
DAEMON_SENDER = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)
BOUNCE_SUBJECT = re.compile(r"undeliver|delivery (status|failure)|returned mail|failure notice|"
                            r"could not be delivered", re.IGNORECASE)
BODY_STATUS = re.compile(r"\b5\.\d{1,3}\.\d{1,3}\b")


@dataclass(frozen=True)
class Bounce:
    """What a DSN says about the delivery: permanent or not, and its status code (no text)."""

    permanent: bool
    status: str


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p", "div", "blockquote"):
            self.chunks.append("\n")


def parse_dsn(mail: Message) -> Bounce | None:
    """The failure a delivery status notification reports, or None when it is not a DSN."""
    if mail.get_content_type() != "multipart/report" or \
            str(mail.get_param("report-type", "")).lower() != "delivery-status":
        return None
    for part in mail.walk():
        if part.get_content_type() not in DSN_PARTS:
            continue
        fields = part.as_string()
        statuses = STATUS_FIELD.findall(fields)
        actions = [action.lower() for action in ACTION_FIELD.findall(fields)]
        status = ".".join(statuses[0]) if statuses else ""
        permanent = "failed" in actions or any(code == "5" for code, _, _ in statuses)
        return Bounce(permanent=permanent, status=status or "5.0.0")
    return Bounce(permanent=False, status="")


def _from_daemon(mail: Message) -> bool:
    """Whether the mail's From is a mailer daemon or postmaster (never a patient)."""
    sender = str(mail.get("From", ""))
    address = sender.rpartition("<")[2].rstrip(">").strip() or sender.strip()
    return DAEMON_SENDER.match(address) is not None


def parse_legacy_bounce(mail: EmailMessage) -> Bounce | None:
    """A bounce without a delivery-status part, from a mailer daemon; None for other mail."""
    if not _from_daemon(mail) and not BOUNCE_SUBJECT.search(str(mail.get("Subject", ""))):
        return None
    body = mail.get_body(preferencelist=("plain",))
    found = BODY_STATUS.search(str(body.get_content())) if body is not None else None
    return Bounce(permanent=True, status=found.group(0) if found else "5.0.0")


def is_automatic(mail: Message) -> bool:
    """An out-of-office or other automatic reply (RFC 3834), which must not stop a cadence."""
    auto = str(mail.get("Auto-Submitted", "no")).strip().lower()
    return auto not in ("", "no") or mail.get("X-Autoreply") is not None


def reply_text(mail: EmailMessage) -> str:
    """The new text of a reply: its plain (else HTML) body without the quoted message.

    A subject that is not "Re: …" counts too: an unsubscribe by `mailto:` has only a subject.
    """
    body_part = mail.get_body(preferencelist=("plain", "html"))
    text = ""
    if body_part is not None:
        content = body_part.get_content()
        if body_part.get_content_subtype() == "html":
            parser = _TextOnly()
            parser.feed(str(content))
            content = "".join(parser.chunks)
        kept: list[str] = []
        for line in str(content).splitlines():
            if QUOTE_START.match(line.strip()):
                break
            kept.append(line)
        text = "\n".join(kept).strip()
    subject = str(mail.get("Subject", "")).strip()
    if subject and not REPLY_PREFIX.match(subject):
        text = f"{subject}\n{text}".strip()
    return text


def provider_message_id(mail: Message, raw: bytes) -> str:
    """The mail's Message-ID, or a digest of its bytes when it has none."""
    given = str(mail.get("Message-ID", "")).strip()
    return given[:160] if given else "sha256:" + hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class InboundMailHandler:
    """aiosmtpd handler: refuses unknown recipients, hands replies and bounces to the services."""

    sessions: Callable[[], AbstractContextManager[Session]]
    now: Callable[[], datetime]
    patient_lookup: LookupFactory

    def known_recipient(self, address: str) -> bool:
        """Whether `address` is a valid reply token naming a message we sent."""
        key = delivery_key_of_address(address)
        if key is None:
            return False
        with self.sessions() as session:
            return message_by_key(session=session, delivery_key=key) is not None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: Any) -> str:
        """Accept only reply-token addresses of messages we sent."""
        if not await asyncio.to_thread(self.known_recipient, address):
            return REFUSED
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Parse the mail and record it for each (already checked) recipient."""
        raw = envelope.original_content or envelope.content
        raw = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "replace")
        try:
            outcome = await asyncio.to_thread(self.deliver, list(envelope.rcpt_tos), raw,
                                              str(envelope.mail_from or ""))
        except Exception:
            # Logged without the mail: it may hold a patient's words and address.
            LOGGER.exception("inbound mail could not be recorded")
            return "451 4.3.0 Could not record the message, please retry"
        LOGGER.info("inbound mail: %s", outcome)
        return "250 2.0.0 OK"

    def deliver(self, recipients: list[str], raw: bytes, mail_from: str = "x") -> str:
        """Record a parsed mail for each recipient; a word on what was done (no PHI).

        Mail with a null envelope sender (`MAIL FROM:<>`) or from a mailer daemon is never a
        person's reply: it is a bounce, or else an automatic message, which is ignored.
        """
        mail = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(mail, EmailMessage)
        bounce = parse_dsn(mail)
        if bounce is None and (mail_from.strip("<> ") == "" or _from_daemon(mail)):
            bounce = parse_legacy_bounce(mail)
            if bounce is None:
                return "automatic message ignored"
        outcomes = []
        for recipient in recipients:
            key = delivery_key_of_address(recipient)
            if key is None:
                continue
            outcomes.append(self._deliver_one(key, mail, raw, bounce))
        return ", ".join(outcomes) or "nothing"

    def _deliver_one(self, key: str, mail: EmailMessage, raw: bytes, bounce: Bounce | None
                     ) -> str:
        now = self.now()
        with self.patient_lookup() as lookup, self.sessions() as session:
            message = message_by_key(session=session, delivery_key=key)
            if message is None:
                return "unknown message"
            if bounce is not None:
                if not bounce.permanent:
                    return "delay notice ignored"
                record_bounce(session=session, message=message,
                              reason=f"bounced: {bounce.status}", now=now)
                session.commit()
                return "bounce recorded"
            if is_automatic(mail):
                return "automatic reply ignored"
            result = record_inbound(
                session=session, channel="email", address=message.recipient,
                text=reply_text(mail), now=now, patient_lookup=lookup,
                provider_message_id=f"{provider_message_id(mail, raw)}|{key}",
                replied_to=message,
            )
        if result.duplicate:
            return "duplicate"
        return "opt-out recorded" if result.opt_out else "reply recorded"


def start_receiver(*, handler: InboundMailHandler, host: str, port: int) -> Controller:
    """Start the SMTP receiver in a background thread (stop it with `.stop()`)."""
    controller = Controller(handler, hostname=host, port=port,
                            data_size_limit=MAX_MESSAGE_BYTES)
    controller.start()
    return controller


def default_handler() -> InboundMailHandler:
    """The handler on the configured store, the one clock and the published snapshot."""
    from contextlib import closing

    from console.outreach.routes import snapshot_lookup
    from console.platform.db import new_session
    from loopdesk_core import clock

    # The command checked the tables once at start-up; each mail only needs a session.
    return InboundMailHandler(sessions=lambda: closing(new_session()), now=clock.now,
                              patient_lookup=snapshot_lookup)
