"""The ask as mailbox providers see it (captured by a real SMTP server); one-click unsubscribe."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import Parser
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from console.identity.tokens import TokenKind, issue_token
from console.models.identity import AuditEvent
from console.models.outreach import Message
from console.models.work import ConsentEvent
from console.outreach.automation import run_automation
from console.outreach.routes import OutreachServices, outreach_routes
from tests.console.outreach_support import channels_for, session_on, smtp_server, world_snapshot
from tests.factories import NOW, add_practice, sqlite_engine


@contextmanager
def _client(engine: Engine, offset: timedelta = timedelta(0)) -> Iterator[TestClient]:
    @contextmanager
    def sessions() -> Iterator[Session]:
        with session_on(engine) as session:
            yield session

    @contextmanager
    def no_lookup() -> Iterator[None]:
        yield None

    services = OutreachServices(sessions=sessions, now=lambda: NOW + offset,
                                patient_lookup=no_lookup, sms_secret=lambda: None)
    with TestClient(Starlette(routes=outreach_routes(services))) as client:
        yield client


def _captured_ask(home: Path) -> tuple[Engine, EmailMessage, list[str], str]:
    """Run one automation pass against a real SMTP server; the ask to Ann as received."""
    engine = sqlite_engine(home)
    session = session_on(engine)
    practice = add_practice(session)
    practice.name = "Smile & Co. Dental, NY"
    session.add(practice)
    session.commit()
    with smtp_server() as (mailbox, port):
        channels, _ = channels_for(port, home)
        run_automation(session=session, snapshot=world_snapshot(), channels=channels, now=NOW)
    [(recipients, content)] = mailbox.received
    mail = Parser(policy=policy.default).parsestr(content)
    assert isinstance(mail, EmailMessage)
    return engine, mail, recipients, mailbox.senders[0]


def _one_click_path(mail: EmailMessage) -> str:
    targets = [t.strip().strip("<>") for t in str(mail["List-Unsubscribe"]).split(",")]
    [url] = [t for t in targets if t.startswith("http")]
    return urlsplit(url).path


def _email_consent_events(engine: Engine) -> list[ConsentEvent]:
    with session_on(engine) as session:
        return list(session.exec(select(ConsentEvent).where(ConsentEvent.channel == "email"))
                    .all())


def test_the_ask_is_multipart_with_display_name_reply_to_and_list_unsubscribe(
    loopdesk_home: Path,
) -> None:
    engine, mail, recipients, envelope_sender = _captured_ask(loopdesk_home)
    assert recipients == ["ann@example.test"]
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    name, address = parseaddr(str(mail["From"]))
    assert (name, address) == ("Smile & Co. Dental, NY", "referrals@loopdesk.test")
    _, reply_to = parseaddr(str(mail["Reply-To"]))
    local, _, domain = reply_to.partition("@")
    assert domain == "reply.loopdesk.local" and local.startswith("r-") and len(local) <= 64
    # Bounces come back to the same per-message address.
    assert envelope_sender == reply_to
    assert str(mail["Message-ID"]).endswith("@loopdesk.local>")
    targets = [t.strip() for t in str(mail["List-Unsubscribe"]).split(",")]
    assert targets[0] == f"<mailto:{reply_to}?subject=unsubscribe>"
    assert targets[1].startswith("<http") and "/u/" in targets[1]
    assert str(mail["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    plain, markup = str(text.get_content()), str(html.get_content())
    assert "Unsubscribe: http" in plain and "STOP" not in plain and "/r/" in plain
    assert '<html lang="en">' in markup and "Smile &amp; Co. Dental, NY" in markup
    assert ">Unsubscribe</a>" in markup and "/r/" in markup
    with session_on(engine) as session:
        stored = session.exec(select(Message).where(Message.channel == "email")).one()
    assert stored.delivery_key is not None and stored.delivery_key in str(mail["Message-ID"])


def test_one_click_revokes_email_consent_once(loopdesk_home: Path) -> None:
    engine, mail, _, _ = _captured_ask(loopdesk_home)
    path = _one_click_path(mail)
    with _client(engine) as client:
        page = client.get(path)
        assert page.status_code == 200 and "<button" in page.text and "<script" not in page.text
        assert "Smile &amp; Co. Dental, NY" in page.text
        assert _email_consent_events(engine) == []  # looking is not unsubscribing
        first = client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert first.status_code == 200 and "unsubscribed" in first.text
        [event] = _email_consent_events(engine)
        assert (event.subject_id, event.granted) == ("p-email", False)
        with session_on(engine) as session:
            audited = len(session.exec(select(AuditEvent)).all())
        second = client.post(path, data={"List-Unsubscribe": "One-Click"})
        again = client.get(path)
    assert second.status_code == 200 and again.status_code == 200
    assert "unsubscribed" in again.text and "<button" not in again.text
    assert len(_email_consent_events(engine)) == 1
    with session_on(engine) as session:
        assert len(session.exec(select(AuditEvent)).all()) == audited


def test_later_email_to_an_unsubscribed_patient_is_not_sent(loopdesk_home: Path) -> None:
    engine, mail, _, _ = _captured_ask(loopdesk_home)
    with _client(engine) as client:
        assert client.post(_one_click_path(mail)).status_code == 200
    session = session_on(engine)
    later = world_snapshot(mart_ask_candidates=[
        {**_ask("p-email", "t-later"), "results_visible_at": NOW + timedelta(days=199)}])
    with smtp_server() as (mailbox, port):
        channels, _ = channels_for(port, loopdesk_home)
        run_automation(session=session, snapshot=later, channels=channels,
                       now=NOW + timedelta(days=200))
    assert "ann@example.test" not in mailbox.recipients()


def _ask(patient_id: str, treatment_id: str) -> dict[str, object]:
    from tests.factories import ask_row

    return ask_row(patient_id, treatment_id, consent_text=False)


@pytest.mark.parametrize("forgery", ["edited", "forged", "expired", "other-kind", "unknown"])
def test_a_bad_unsubscribe_token_is_refused_and_changes_nothing(
    loopdesk_home: Path, forgery: str,
) -> None:
    engine, mail, _, _ = _captured_ask(loopdesk_home)
    path = _one_click_path(mail)
    token = path.removeprefix("/u/")
    with session_on(engine) as session:
        key = session.exec(select(Message.delivery_key).where(Message.channel == "email")).one()
    bad = {
        "edited": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "forged": issue_token(kind=TokenKind.unsubscribe, subject=f"message:{key}", now=NOW,
                              lifetime=timedelta(days=1)).rsplit(".", 1)[0] + ".c2lnbmF0dXJl",
        "expired": token,
        "other-kind": issue_token(kind=TokenKind.report, subject=f"message:{key}", now=NOW,
                                  lifetime=timedelta(days=1)),
        "unknown": issue_token(kind=TokenKind.unsubscribe, subject="message:nosuchkey", now=NOW,
                               lifetime=timedelta(days=1)),
    }[forgery]
    offset = timedelta(days=400) if forgery == "expired" else timedelta(0)
    with _client(engine, offset) as client:
        posted = client.post(f"/u/{bad}", data={"List-Unsubscribe": "One-Click"})
        shown = client.get(f"/u/{bad}")
    assert posted.status_code == 404 and shown.status_code == 404
    assert "not valid" in posted.text
    assert _email_consent_events(engine) == []
