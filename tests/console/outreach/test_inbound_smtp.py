"""The SMTP receiver: replies to an ask's Reply-To stop its cadence, DSNs stop email to the address,
and mail to any other address is refused at RCPT TO."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import Parser
from email.utils import parseaddr
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from console.identity.tokens import new_delivery_key
from console.messaging.delivery import reply_address
from console.models.outreach import InboundReply, Message, UndeliverableAddress
from console.models.work import ConsentEvent, Task
from console.outreach.automation import run_automation
from console.outreach.inbound_smtp import InboundMailHandler, start_receiver
from tests.console.outreach_support import (
    channels_for,
    free_port,
    session_on,
    smtp_server,
    world_snapshot,
)
from tests.factories import NOW, add_practice, ask_row, patient_row, sqlite_engine

LATER = NOW + timedelta(hours=1)


@contextmanager
def _receiver(engine: Engine) -> Iterator[int]:
    @contextmanager
    def sessions() -> Iterator[Session]:
        with session_on(engine) as session:
            yield session

    @contextmanager
    def no_lookup() -> Iterator[None]:
        yield None

    port = free_port()
    controller = start_receiver(
        handler=InboundMailHandler(sessions=sessions, now=lambda: LATER,
                                   patient_lookup=no_lookup),
        host="127.0.0.1", port=port)
    try:
        yield port
    finally:
        controller.stop()


def _ask_sent(home: Path, **snapshot_rows: list[dict[str, object]]) -> tuple[Engine, str]:
    """One automation pass; the Reply-To of the ask emailed to Ann."""
    engine = sqlite_engine(home)
    session = session_on(engine)
    add_practice(session)
    with smtp_server() as (mailbox, port):
        channels, _ = channels_for(port, home)
        run_automation(session=session, snapshot=world_snapshot(**snapshot_rows),
                       channels=channels, now=NOW)
    [content] = [c for tos, c in mailbox.received if tos == ["ann@example.test"]]
    mail = Parser(policy=policy.default).parsestr(content)
    return engine, parseaddr(str(mail["Reply-To"]))[1]


def _send(port: int, to: str, mail: EmailMessage, sender: str = "ann@example.test") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(mail, from_addr=sender, to_addrs=[to])


def _reply(to: str, text: str, subject: str = "Re: A small favour", **headers: str
           ) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "Ann <ann@example.test>", to, subject
    mail["Message-ID"] = headers.pop("message_id", "<reply-1@mail.example.test>")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    return mail


def _dsn(to: str, status: str = "5.1.1", action: str = "failed") -> EmailMessage:
    """A delivery status notification as Postfix writes one (RFC 3464)."""
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\n"
        f"To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn-{status}@mx.example.test>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.test\r\n\r\n"
        f"Final-Recipient: rfc822; ann@example.test\r\nAction: {action}\r\n"
        f"Status: {status}\r\nDiagnostic-Code: smtp; 550 5.1.1 <ann@example.test>: unknown\r\n"
        "\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        "Subject: A small favour\r\n\r\n--B--\r\n"
    )
    mail = Parser(policy=policy.default).parsestr(raw)
    assert isinstance(mail, EmailMessage)
    return mail


def _ask(session: Session) -> Message:
    return session.exec(select(Message).where(Message.subject_id == "p-email")
                        .execution_options(populate_existing=True)).one()


def test_a_reply_to_the_ask_stops_its_cadence(loopdesk_home: Path) -> None:
    engine, reply_to = _ask_sent(loopdesk_home)
    quoted = ("Thanks, I will pass it on to my sister.\n\nOn Thu, 26 Nov 2026, Smile wrote:\n"
              "> Unsubscribe: https://x/u/abc\n")
    with _receiver(engine) as port:
        _send(port, reply_to, _reply(reply_to, quoted))
        _send(port, reply_to, _reply(reply_to, quoted))  # delivered twice: handled once
    session = session_on(engine)
    ask = _ask(session)
    assert ask.status == "replied" and ask.replied_at is not None
    # The quoted "Unsubscribe" of our own ask is not an opt-out.
    assert session.exec(select(ConsentEvent)).all() == []
    [reply] = session.exec(select(InboundReply)).all()
    assert reply.message_id == ask.message_id and not reply.opt_out
    with smtp_server() as (_, port):
        channels, _ = channels_for(port, loopdesk_home)
        run_automation(session=session, snapshot=None, channels=channels,
                       now=NOW + timedelta(days=6))
    follow_ups = session.exec(select(Task).where(Task.kind == "follow_up")).all()
    # Bob (texted, no answer) gets the follow-up call; Ann, who replied, does not.
    assert [t.subject_id for t in follow_ups] == ["p-sms"]


def test_a_reply_matches_by_token_even_from_another_sender_address(loopdesk_home: Path) -> None:
    engine, reply_to = _ask_sent(loopdesk_home)
    with _receiver(engine) as port:
        _send(port, reply_to, _reply(reply_to, "Please STOP emailing me"),
              sender="ann.alias@other.example.test")
    session = session_on(engine)
    revoked = {e.channel for e in session.exec(select(ConsentEvent)).all()
               if e.subject_id == "p-email" and not e.granted}
    assert revoked == {"call", "text", "email"}


def test_a_mailto_unsubscribe_with_only_a_subject_opts_out(loopdesk_home: Path) -> None:
    engine, reply_to = _ask_sent(loopdesk_home)
    with _receiver(engine) as port:
        _send(port, reply_to, _reply(reply_to, "", subject="unsubscribe"))
    session = session_on(engine)
    assert {e.channel for e in session.exec(select(ConsentEvent)).all()} == {
        "call", "text", "email"}


def test_an_out_of_office_reply_is_ignored(loopdesk_home: Path) -> None:
    engine, reply_to = _ask_sent(loopdesk_home)
    with _receiver(engine) as port:
        _send(port, reply_to, _reply(reply_to, "I am away until Monday.",
                                     subject="Out of office", Auto_Submitted="auto-replied"))
    session = session_on(engine)
    assert _ask(session).status == "sent"
    assert session.exec(select(InboundReply)).all() == []


def test_a_dsn_marks_the_address_undeliverable_and_the_ask_becomes_a_call(
    loopdesk_home: Path,
) -> None:
    engine, reply_to = _ask_sent(loopdesk_home)
    with _receiver(engine) as port:
        _send(port, reply_to, _dsn(reply_to, status="4.2.2", action="delayed"), sender="")
        with session_on(engine) as early:
            assert _ask(early).status == "sent"  # a delay notice is not a bounce
        _send(port, reply_to, _dsn(reply_to), sender="")
    session = session_on(engine)
    ask = _ask(session)
    assert ask.status == "failed" and ask.last_error == "bounced: 5.1.1"
    [marked] = session.exec(select(UndeliverableAddress)).all()
    assert (marked.channel, marked.address) == ("email", "ann@example.test")
    with smtp_server() as (mailbox, port):
        channels, _ = channels_for(port, loopdesk_home)
        run = run_automation(session=session, snapshot=None, channels=channels, now=LATER)
        # The patient's next ask (a later treatment) is not emailed: no other channel is
        # consented, so refresh's call task is the ask.
        later = world_snapshot(mart_ask_candidates=[
            ask_row("p-email", "t-later", consent_text=False,
                    results_visible_at=NOW + timedelta(days=199))])
        again = run_automation(session=session, snapshot=later, channels=channels,
                               now=NOW + timedelta(days=200))
    assert run.follow_ups_created == 1
    [follow_up] = session.exec(select(Task).where(Task.kind == "follow_up")
                               .where(Task.subject_id == "p-email")).all()
    assert follow_up.status == "open" and follow_up.consent_call
    assert "ann@example.test" not in mailbox.recipients() and again.queued == 0


def test_after_a_bounce_the_next_ask_goes_by_text_when_consented(loopdesk_home: Path) -> None:
    texting = [patient_row("p-email", email="ann@example.test", phone="+12125550101",
                           first_name="Ann")]
    engine, reply_to = _ask_sent(loopdesk_home, mart_patients=texting)
    with _receiver(engine) as port:
        _send(port, reply_to, _dsn(reply_to), sender="")
    session = session_on(engine)
    later = world_snapshot(mart_patients=texting, mart_ask_candidates=[
        ask_row("p-email", "t-later", results_visible_at=NOW + timedelta(days=199))])
    with smtp_server() as (mailbox, port):
        channels, sms = channels_for(port, loopdesk_home)
        run_automation(session=session, snapshot=later, channels=channels,
                       now=NOW + timedelta(days=200))
    assert "ann@example.test" not in mailbox.recipients()
    assert "+12125550101" in [t["to"] for t in sms.sent()]


@pytest.mark.parametrize("address", [
    "someone@reply.loopdesk.local", "postmaster@reply.loopdesk.local",
    "ann@example.test", "forged", "unknown-message", "other-domain", "edited",
])
def test_mail_to_any_other_address_is_refused_at_rcpt(loopdesk_home: Path, address: str) -> None:
    engine, reply_to = _ask_sent(loopdesk_home)
    local, _, domain = reply_to.partition("@")
    target = {
        "forged": f"r-{new_delivery_key()}-aaaaaaaaaaaaaaaa@{domain}",
        "unknown-message": reply_address(new_delivery_key()),  # valid token, no such message
        "other-domain": f"{local}@elsewhere.example.test",
        "edited": f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}",
    }.get(address, address)
    with _receiver(engine) as port, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        _send(port, target, _reply(target, "hello"))
    [(code, _)] = refused.value.recipients.values()
    assert code == 550
    assert session_on(engine).exec(select(InboundReply)).all() == []


def test_a_plain_bounce_from_a_mailer_daemon_counts_and_other_null_sender_mail_is_ignored(
    loopdesk_home: Path,
) -> None:
    engine, reply_to = _ask_sent(loopdesk_home)
    automatic = _reply(reply_to, "STOP the presses: I am on holiday", subject="Away",
                       message_id="<auto@mail.example.test>")
    legacy = _reply(reply_to, "Sorry, we were unable to deliver your message.\n"
                    "550 5.1.1 user unknown", subject="failure notice",
                    message_id="<bounce@mx.example.test>")
    legacy.replace_header("From", "MAILER-DAEMON@mx.example.test")
    with _receiver(engine) as port:
        _send(port, reply_to, automatic, sender="")
        with session_on(engine) as early:
            assert _ask(early).status == "sent"
            assert early.exec(select(ConsentEvent)).all() == []  # not a person's "STOP"
        _send(port, reply_to, legacy, sender="")
    session = session_on(engine)
    ask = _ask(session)
    assert ask.status == "failed" and ask.last_error == "bounced: 5.1.1"
    assert len(session.exec(select(UndeliverableAddress)).all()) == 1


def test_a_mailer_daemon_bounce_with_an_envelope_sender_still_counts(loopdesk_home: Path) -> None:
    engine, reply_to = _ask_sent(loopdesk_home)
    legacy = _reply(reply_to, "This message was created automatically by mail delivery "
                    "software.\n\nA message could not be delivered: mailbox unavailable",
                    subject="Mail delivery failed: returning message to sender",
                    message_id="<bounce-2@mx.example.test>")
    legacy.replace_header("From", "Mail Delivery System <Mailer-Daemon@mx.example.test>")
    with _receiver(engine) as port:
        _send(port, reply_to, legacy, sender="mailer-daemon@mx.example.test")
    session = session_on(engine)
    ask = _ask(session)
    assert ask.status == "failed" and ask.last_error == "bounced: 5.0.0"
    assert session.exec(select(InboundReply)).all() == []
