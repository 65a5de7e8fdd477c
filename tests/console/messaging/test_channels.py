"""Channels: real SMTP to a local aiosmtpd server, and the development SMS file provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.messaging.channels import SendError
from console.messaging.channels.email import SmtpEmailChannel
from console.messaging.channels.sms import SMS_MAX_CHARS, FileSmsProvider, SmsChannel
from tests.console.outreach_support import free_port, smtp_server


def test_email_is_delivered_over_smtp() -> None:
    with smtp_server() as (mailbox, port):
        channel = SmtpEmailChannel(host="127.0.0.1", port=port, sender="from@loopdesk.test")
        channel.send(recipient="ann@example.test", subject="Hello", body="Body text")
    [(recipients, content)] = mailbox.received
    assert recipients == ["ann@example.test"]
    assert "Subject: Hello" in content and "Body text" in content


def test_refused_recipient_is_a_send_error_without_the_address() -> None:
    with smtp_server(refuse=True) as (_, port):
        channel = SmtpEmailChannel(host="127.0.0.1", port=port, sender="from@loopdesk.test")
        with pytest.raises(SendError) as caught:
            channel.send(recipient="ann@example.test", subject="s", body="b")
    assert "refused" in caught.value.reason
    assert "ann@" not in caught.value.reason


def test_unreachable_server_is_a_send_error() -> None:
    channel = SmtpEmailChannel(host="127.0.0.1", port=free_port(), sender="f@loopdesk.test")
    with pytest.raises(SendError):
        channel.send(recipient="ann@example.test", subject="s", body="b")


def test_file_provider_appends_one_line_per_text(tmp_path: Path) -> None:
    provider = FileSmsProvider(tmp_path / "sms.jsonl")
    channel = SmsChannel(provider)
    channel.send(recipient="+12125550101", subject="ignored", body="first")
    channel.send(recipient="+12125550102", subject="", body="second")
    assert provider.sent() == [{"to": "+12125550101", "body": "first"},
                               {"to": "+12125550102", "body": "second"}]


def test_too_long_text_is_refused_not_truncated(tmp_path: Path) -> None:
    provider = FileSmsProvider(tmp_path / "sms.jsonl")
    with pytest.raises(SendError):
        SmsChannel(provider).send(recipient="+12125550101", subject="",
                                  body="x" * (SMS_MAX_CHARS + 1))
    assert provider.sent() == []


def test_an_attachment_travels_as_its_own_mime_part() -> None:
    import email
    from email.policy import default as default_policy

    from console.messaging.channels import Attachment

    pdf = b"%PDF-1.4 a tiny stand-in"
    with smtp_server() as (mailbox, port):
        channel = SmtpEmailChannel(host="127.0.0.1", port=port, sender="from@loopdesk.test")
        channel.send(recipient="a@example.test, b@example.test", subject="Report",
                     body="Summary", attachments=[Attachment("r.pdf", "application/pdf", pdf)])
    [(recipients, content)] = mailbox.received
    assert recipients == ["a@example.test", "b@example.test"]
    message = email.message_from_string(content, policy=default_policy)
    [part] = list(message.iter_attachments())  # type: ignore[attr-defined]
    assert part.get_filename() == "r.pdf" and part.get_content() == pdf
    assert message.get_body(("plain",)).get_content().strip() == "Summary"  # type: ignore[attr-defined]


def test_a_text_cannot_carry_an_attachment(tmp_path: Path) -> None:
    from console.messaging.channels import Attachment

    provider = FileSmsProvider(tmp_path / "sms.jsonl")
    with pytest.raises(SendError, match="attachments"):
        SmsChannel(provider).send(recipient="+12125550101", subject="", body="hi",
                                  attachments=[Attachment("r.pdf", "application/pdf", b"x")])
    assert provider.sent() == []
