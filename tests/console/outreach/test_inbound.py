"""Inbound replies: opt-out words stop everything for that person at once; replies stop cadence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from console.contact.opt_out import is_opt_out
from console.messaging.outbox import NewMessage, enqueue
from console.models.outreach import Message
from console.models.work import ConsentEvent, Task
from console.outreach.automation import run_automation
from console.outreach.replies import record_inbound
from console.platform.errors import UserError
from tests.console.outreach_support import channels_for, session_on, smtp_server, world_snapshot
from tests.factories import NOW, add_practice, add_task, sqlite_engine

OPT_OUT_REPLIES = {
    "stop": "STOP",
    "quit": "please quit texting me",
    "end": "End.",
    "revoke": "I revoke my consent",
    "opt out": "I want to Opt Out thanks",
    "cancel": "cancel!!",
    "unsubscribe": "Unsubscribe me please",
}


@pytest.mark.parametrize("word", sorted(OPT_OUT_REPLIES))
def test_opt_out_reply_stops_everything_within_the_same_run(
    loopdesk_home: Path, word: str
) -> None:
    engine = sqlite_engine(loopdesk_home)
    session = session_on(engine)
    practice = add_practice(session)
    call_task = add_task(session, practice, kind="review_request", subject_id="p-sms")
    later = enqueue(session=session, now=NOW, message=NewMessage(
        idempotency_key="loop_close:x", practice_slug="smile-ny", subject_type="patient",
        subject_id="p-sms", purpose="loop_close", channel="sms", template="loop_close_sms",
        recipient="+12125550102", subject="", body="thanks"))
    session.commit()
    assert later is not None
    result = record_inbound(session=session, channel="sms", address="(212) 555-0102",
                            text=OPT_OUT_REPLIES[word], now=NOW)
    assert result.opt_out and result.people_matched == 1
    assert result.tasks_cancelled == 1 and result.messages_cancelled == 1
    with smtp_server() as (mailbox, port):
        channels, sms = channels_for(port, loopdesk_home)
        run = run_automation(session=session, snapshot=world_snapshot(), channels=channels,
                             now=NOW)
    texts = sms.sent()
    # Only the single confirmation goes to the person who opted out; the ask never does.
    assert [t["to"] for t in texts] == ["+12125550102"]
    assert "no further messages" in texts[0]["body"]
    assert mailbox.recipients() == ["ann@example.test"]
    assert run.sent == 2
    revoked = session.exec(select(ConsentEvent).where(ConsentEvent.subject_id == "p-sms")).all()
    assert sorted(e.channel for e in revoked) == ["call", "email", "text"]
    assert not any(e.granted for e in revoked)
    cancelled = session.get(Task, call_task.task_id, populate_existing=True)
    assert cancelled is not None and cancelled.status == "cancelled"


def _messages_to(session: object, subject_id: str) -> list[Message]:
    return list(session.exec(  # type: ignore[attr-defined]
        select(Message).where(Message.subject_id == subject_id)
        .execution_options(populate_existing=True)).all())


def test_opt_out_applies_at_every_practice_and_confirms_once(loopdesk_home: Path) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    add_practice(session)
    add_practice(session, "glow-az", timezone="America/Phoenix")

    def lookup(channel: str, address: str) -> list[tuple[str, str]]:
        assert (channel, address) == ("email", "ann@example.test")
        return [("smile-ny", "p-email"), ("glow-az", "g-7")]

    first = record_inbound(session=session, channel="email", address="Ann@Example.test",
                           text="stop", now=NOW, patient_lookup=lookup)
    second = record_inbound(session=session, channel="email", address="ann@example.test",
                            text="STOP", now=NOW, patient_lookup=lookup)
    assert (first.practices, first.confirmation_queued) == (2, True)
    assert second.confirmation_queued is False
    events = session.exec(select(ConsentEvent)).all()
    assert {(e.practice_slug, e.subject_id) for e in events} == {
        ("smile-ny", "p-email"), ("glow-az", "g-7")}
    assert len(session.exec(select(Message)).all()) == 1


@pytest.mark.parametrize("text", ["Stopping by next weekend", "I recommend you!",
                                  "my friend Endre will call", "yes, happy to"])
def test_words_merely_containing_opt_out_words_do_not_opt_out(text: str) -> None:
    assert not is_opt_out(text)


@pytest.mark.parametrize("text", ["opt-out", "OPTOUT", "please, STOP.", "end"])
def test_opt_out_word_variants(text: str) -> None:
    assert is_opt_out(text)


def test_a_reply_marks_the_message_replied_and_stops_the_cadence(loopdesk_home: Path) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    add_practice(session)
    with smtp_server() as (_, port):
        channels, _ = channels_for(port, loopdesk_home)
        run_automation(session=session, snapshot=world_snapshot(), channels=channels, now=NOW)
        result = record_inbound(session=session, channel="email", address="ann@example.test",
                                text="Yes! My sister is interested", now=NOW + timedelta(days=1))
        later = run_automation(session=session, snapshot=None, channels=channels,
                               now=NOW + timedelta(days=6))
    assert not result.opt_out and result.replied_message_id is not None
    [message] = _messages_to(session, "p-email")
    assert message.status == "replied" and message.replied_at == NOW + timedelta(days=1)
    follow_ups = session.exec(select(Task).where(Task.kind == "follow_up")).all()
    assert [t.subject_id for t in follow_ups] == ["p-sms"]
    assert later.follow_ups_created == 1


def test_bad_channel_or_address_is_a_user_error(loopdesk_home: Path) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    with pytest.raises(UserError):
        record_inbound(session=session, channel="fax", address="x", text="stop", now=NOW)
    with pytest.raises(UserError):
        record_inbound(session=session, channel="sms", address="not a phone", text="stop",
                       now=NOW)
