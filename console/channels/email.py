"""Email over SMTP (smtplib), configured by the LOOPDESK_SMTP_* settings."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from console.channels import Attachment, SendError
from console.settings import get_settings

SMTP_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class SmtpEmailChannel:
    """Sends one plain-text email per call through an SMTP server."""

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
             attachments: Sequence[Attachment] = ()) -> None:
        """Hand the message to the server; any refusal or connection error is a SendError.

        `recipient` may list several addresses separated by commas; each attachment becomes a
        MIME part of its own.
        """
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = recipient
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain="loopdesk.local")
        message.set_content(body)
        for attachment in attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            message.add_attachment(attachment.content, maintype=maintype,
                                   subtype=subtype or "octet-stream",
                                   filename=attachment.filename)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user and self.password:
                    smtp.login(self.user, self.password)
                refused = smtp.send_message(message)
        except smtplib.SMTPResponseException as error:
            # The server's code is useful; its text may echo the address, so it is dropped.
            raise SendError(f"smtp refused: {error.smtp_code}") from error
        except smtplib.SMTPRecipientsRefused as error:
            raise SendError("smtp refused the recipient") from error
        except (smtplib.SMTPException, OSError) as error:
            raise SendError(f"smtp error: {type(error).__name__}") from error
        if refused:
            raise SendError("smtp refused the recipient")
