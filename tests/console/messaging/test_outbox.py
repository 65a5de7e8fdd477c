"""The outbox: idempotent enqueue, atomic claims, retries with back-off, at-most-once, the gate."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, select

from console.contact.consent import revoke_consent
from console.messaging.outbox import MAX_ATTEMPTS, NewMessage, claim_due, enqueue, send_due
from console.models.outreach import Message, UndeliverableAddress
from console.models.work import Touch
from tests.console.outreach_support import channels_for, session_on, smtp_server
from tests.factories import NOW, add_practice, sqlite_engine


def _new(key: str, subject_id: str = "p-1", recipient: str = "ann@example.test") -> NewMessage:
    return NewMessage(idempotency_key=key, practice_slug="smile-ny", subject_type="patient",
                      subject_id=subject_id, patient_id=subject_id, purpose="ask",
                      channel="email", template="ask_email", recipient=recipient,
                      subject="Hi", body="Body")


def _message(session: Session, message_id: int | None) -> Message:
    found = session.get(Message, message_id, populate_existing=True)
    assert found is not None
    return found


def test_enqueue_twice_with_one_key_stores_one_message(loopdesk_home: Path) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    assert enqueue(session=session, message=_new("ask:a"), now=NOW) is not None
    assert enqueue(session=session, message=_new("ask:a"), now=NOW) is None
    session.commit()
    assert len(session.exec(select(Message)).all()) == 1


def test_concurrent_claims_never_share_a_message(loopdesk_home: Path) -> None:
    engine = sqlite_engine(loopdesk_home)
    session = session_on(engine)
    for i in range(40):
        enqueue(session=session, message=_new(f"k{i}", subject_id=f"p{i}"), now=NOW)
    session.commit()
    claimed: list[int] = []
    lock = threading.Lock()

    def claim() -> None:
        with session_on(engine) as own:
            ids = [m.message_id or 0 for m in claim_due(session=own, now=NOW, limit=7)]
        with lock:
            claimed.extend(ids)

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 40 and len(set(claimed)) == 40


def test_refused_send_is_retried_with_back_off_then_failed_with_reason(
    loopdesk_home: Path,
) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    add_practice(session)
    row = enqueue(session=session, message=_new("ask:x"), now=NOW)
    session.commit()
    assert row is not None
    # A temporary (4xx) refusal is worth retrying; a permanent one is not (test below).
    with smtp_server(refuse=True, refusal="451 4.3.0 try again later") as (_, port):
        channels, _ = channels_for(port, loopdesk_home)
        first = send_due(session=session, channels=channels, now=NOW)
        too_early = send_due(session=session, channels=channels, now=NOW + timedelta(minutes=4))
        second = send_due(session=session, channels=channels, now=NOW + timedelta(minutes=5))
        third = send_due(session=session, channels=channels, now=NOW + timedelta(minutes=15))
    assert (first.retried, too_early.retried + too_early.failed, second.retried) == (1, 0, 1)
    assert third.failed == 1
    failed = _message(session, row.message_id)
    assert failed.status == "failed" and failed.attempts == MAX_ATTEMPTS
    assert failed.last_error == "smtp refused the recipient: 451"
    assert session.exec(select(Touch)).all() == []
    assert session.exec(select(UndeliverableAddress)).all() == []


def test_permanent_refusal_fails_at_once_and_stops_email_to_the_address(
    loopdesk_home: Path,
) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    add_practice(session)
    first = enqueue(session=session, message=_new("ask:first"), now=NOW)
    session.commit()
    assert first is not None
    with smtp_server(refuse=True) as (_, port):
        channels, _ = channels_for(port, loopdesk_home)
        counts = send_due(session=session, channels=channels, now=NOW)
    assert (counts.failed, counts.retried) == (1, 0)
    failed = _message(session, first.message_id)
    assert failed.status == "failed" and failed.attempts == 1
    assert failed.last_error == "smtp refused the recipient: 550"
    [marked] = session.exec(select(UndeliverableAddress)).all()
    assert (marked.practice_slug, marked.channel, marked.address) == (
        "smile-ny", "email", "ann@example.test")
    later = enqueue(session=session, message=_new("ask:later"), now=NOW + timedelta(days=1))
    session.commit()
    assert later is not None
    with smtp_server() as (mailbox, port):
        channels, _ = channels_for(port, loopdesk_home)
        again = send_due(session=session, channels=channels, now=NOW + timedelta(days=1))
    # Nothing more is handed to the server for that address: the message fails unsent.
    assert mailbox.received == [] and again.failed == 1
    assert _message(session, later.message_id).last_error == "address undeliverable"


def test_a_crashed_sending_row_is_marked_failed_never_resent(loopdesk_home: Path) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    add_practice(session)
    row = enqueue(session=session, message=_new("ask:crash"), now=NOW)
    session.commit()
    assert row is not None
    claim_due(session=session, now=NOW)  # the sender "crashes" after claiming
    with smtp_server() as (mailbox, port):
        channels, _ = channels_for(port, loopdesk_home)
        during_lease = send_due(session=session, channels=channels, now=NOW + timedelta(minutes=1))
        after_lease = send_due(session=session, channels=channels, now=NOW + timedelta(hours=1))
    assert during_lease.sent == 0 and after_lease.sent == 0 and after_lease.failed == 1
    assert mailbox.received == []
    crashed = _message(session, row.message_id)
    assert crashed.status == "failed" and "interrupted" in (crashed.last_error or "")


def test_quiet_hours_hold_the_message_for_later(loopdesk_home: Path) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    add_practice(session)
    night = NOW.replace(hour=5)  # 00:00 in New York
    row = enqueue(session=session, message=_new("ask:night"), now=night)
    session.commit()
    assert row is not None
    with smtp_server() as (mailbox, port):
        channels, _ = channels_for(port, loopdesk_home)
        held = send_due(session=session, channels=channels, now=night)
        assert _message(session, row.message_id).status == "queued"
        later = send_due(session=session, channels=channels, now=NOW)
    assert (held.skipped_gate, held.sent, later.sent) == (1, 0, 1)
    assert mailbox.recipients() == ["ann@example.test"]


def test_revoked_consent_cancels_the_message(loopdesk_home: Path) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    add_practice(session)
    row = enqueue(session=session, message=_new("ask:revoked"), now=NOW)
    revoke_consent(session=session, practice_slug="smile-ny", subject_type="patient",
                   subject_id="p-1", source="test", now=NOW - timedelta(minutes=1))
    session.commit()
    assert row is not None
    with smtp_server() as (mailbox, port):
        channels, _ = channels_for(port, loopdesk_home)
        counts = send_due(session=session, channels=channels, now=NOW)
    assert (counts.sent, counts.cancelled) == (0, 1)
    assert mailbox.received == []
    assert _message(session, row.message_id).status == "cancelled"


def test_fatigue_cap_lets_one_message_a_day_through(loopdesk_home: Path) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    add_practice(session)
    enqueue(session=session, message=_new("one"), now=NOW)
    enqueue(session=session, message=_new("two"), now=NOW)
    session.commit()
    with smtp_server() as (mailbox, port):
        channels, _ = channels_for(port, loopdesk_home)
        counts = send_due(session=session, channels=channels, now=NOW)
    assert (counts.sent, counts.skipped_gate) == (1, 1)
    assert len(mailbox.received) == 1


def test_every_email_gets_its_identity_html_and_unsubscribe_line(loopdesk_home: Path) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    add_practice(session)
    thanks = enqueue(session=session, now=NOW, message=NewMessage(
        idempotency_key="loop_close:x", practice_slug="smile-ny", subject_type="patient",
        subject_id="p-1", purpose="loop_close", channel="email", template="loop_close_email",
        recipient="ann@example.test", subject="Thank you", body="Hi Ann & co, thank you."))
    confirmation = enqueue(session=session, now=NOW, message=NewMessage(
        idempotency_key="opt_out_confirmation:email:x", practice_slug="smile-ny",
        subject_type="patient", subject_id="p-1", purpose="opt_out_confirmation",
        channel="email", template="opt_out_confirmation", recipient="ann@example.test",
        subject="Unsubscribed", body="You will receive no further messages."))
    text = enqueue(session=session, now=NOW, message=replace(
        _new("ask:sms", recipient="+12125550101"), channel="sms", template="ask_sms"))
    session.commit()
    assert thanks is not None and confirmation is not None and text is not None
    assert thanks.delivery_key and thanks.unsubscribe_url and "/u/" in thanks.unsubscribe_url
    assert thanks.body.endswith(f"Unsubscribe: {thanks.unsubscribe_url}")
    assert thanks.body_html is not None and "<p>Hi Ann &amp; co, thank you.</p>" in thanks.body_html
    assert ">Unsubscribe</a>" in thanks.body_html
    assert confirmation.delivery_key and "Unsubscribe" not in confirmation.body
    assert text.delivery_key is None and text.unsubscribe_url is None and text.body_html is None
