"""Email over SMTP (smtplib), configured by the LOOPDESK_SMTP_* settings.

Each email is built the way mailbox providers expect from a bulk sender: `multipart/alternative`
(text and a short HTML part), `From: "<Practice>" <sender>`, a per-message `Reply-To` that reaches
Loopdesk, a `Message-ID` on the agency's domain, and `List-Unsubscribe` (mailto + https) with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 2369, RFC 8058).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape

from console.messaging.channels import Attachment, MessageParts, SendError
from loopdesk_core import clock
from loopdesk_core.settings import get_settings

SMTP_TIMEOUT_SECONDS = 10
# Long unsubscribe URLs must stay whole: fold only where RFC 5322 allows (998 characters a line).
EMAIL_POLICY = policy.SMTP.clone(max_line_length=998)
# Replies about the mailbox itself (RFC 3463 / RFC 5321): the address does not work.
MAILBOX_CODES = (550, 551, 553)


def html_document(*, subject: str, fragment: str) -> str:
    """The HTML part around an already-escaped fragment: language, charset, title."""
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(subject)}</title></head>\n<body>\n{fragment}\n</body></html>\n"
    )


def build_email(*, sender: str, recipient: str, subject: str, body: str,
                parts: MessageParts | None = None,
                attachments: Sequence[Attachment] = ()) -> EmailMessage:
    """The message as it goes over the wire: text, HTML alternative, then each attachment."""
    parts = parts or MessageParts()
    message = EmailMessage(policy=EMAIL_POLICY)
    local, _, domain = sender.partition("@")
    message["From"] = Address(display_name=parts.sender_name.strip(), username=local,
                              domain=domain) if parts.sender_name.strip() else sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = parts.message_id or make_msgid(
        domain=get_settings().resolved_mail_domain)
    if parts.reply_to:
        message["Reply-To"] = parts.reply_to
    targets = [t for t in (parts.unsubscribe_mailto, parts.unsubscribe_url) if t]
    if targets:
        message["List-Unsubscribe"] = ", ".join(f"<{target}>" for target in targets)
    if parts.unsubscribe_url:
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(body)
    if parts.html:
        message.add_alternative(html_document(subject=subject, fragment=parts.html),
                                subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(attachment.content, maintype=maintype,
                               subtype=subtype or "octet-stream", filename=attachment.filename)
    return message


def _refusal(code: int, what: str) -> SendError:
    """A SendError for an SMTP reply code (its text may echo the address, so it is dropped)."""
    if 500 <= code < 600:
        return SendError(f"smtp refused {what}: {code}", permanent=True,
                         undeliverable=what == "the recipient" or code in MAILBOX_CODES)
    return SendError(f"smtp refused {what}: {code}")


@dataclass(frozen=True)
class SmtpEmailChannel:
    """Sends one email per call through an SMTP server."""

    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    starttls: bool = False

    @classmethod
    def from_settings(cls) -> SmtpEmailChannel:
        """The channel as LOOPDESK_SMTP_* configure it."""
        settings = get_settings()
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_from,
                   user=settings.smtp_user, password=password, starttls=settings.smtp_tls)

    def send(self, *, recipient: str, subject: str, body: str,
             parts: MessageParts | None = None,
             attachments: Sequence[Attachment] = ()) -> None:
        """Hand the message to the server; any refusal or connection error is a SendError.

        `recipient` may list several addresses separated by commas; each attachment becomes a
        MIME part of its own. A 5xx refusal is permanent; one about the recipient also marks it
        undeliverable.
        """
        message = build_email(sender=self.sender, recipient=recipient, subject=subject,
                              body=body, parts=parts, attachments=attachments)
        # The envelope sender is the reply-token address, so a later bounce names the message.
        envelope_from = parts.reply_to if parts is not None and parts.reply_to else self.sender
        to_addrs = [address.strip() for address in recipient.split(",") if address.strip()]
        try:
            with smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user and self.password:
                    smtp.login(self.user, self.password)
                refused = smtp.send_message(message, from_addr=envelope_from,
                                            to_addrs=to_addrs)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            raise _refusal(max(codes, default=550), "the recipient") from error
        except smtplib.SMTPSenderRefused as error:
            # Our own sender was refused: not the patient's address, and worth a retry.
            raise SendError(f"smtp refused the sender: {error.smtp_code}") from error
        except smtplib.SMTPResponseException as error:
            raise _refusal(error.smtp_code, "the message") from error
        except (smtplib.SMTPException, OSError) as error:
            raise SendError(f"smtp error: {type(error).__name__}") from error
        if refused:
            codes = [code for code, _ in refused.values()]
            raise _refusal(max(codes, default=550), "the recipient")
