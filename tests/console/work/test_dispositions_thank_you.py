"""`loop_closed` with a thank-you: queued once through the outbox, by consent, sent by the gate."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from console.contact.consent import revoke_consent
from console.identity.access import CurrentUser
from console.messaging.outbox import send_due
from console.models.outreach import Message, OutreachSettings
from console.models.practice import PracticeSettings
from console.models.work import Task
from console.platform.errors import UserError
from console.work.claims import claim_next
from console.work.dispositions import DispositionResult, log_disposition
from console.work.leads import record_lead_event
from console.work.loop_closure import published_referrer, queue_thank_you, read_referrer
from tests.console.outreach_support import channels_for, smtp_server
from tests.factories import (
    NOW,
    add_practice,
    add_task,
    add_worker,
    lead_row,
    patient_row,
    session_for,
    snapshot,
    sqlite_engine,
)

BOOKED = "Your friend has booked a consultation with us."
IN_TOUCH = "We have been in touch with your friend."


@dataclass
class Desk:
    """A practice, a coordinator, and the referrer p1 whose friend l1 booked."""

    session: Session
    practice: PracticeSettings
    user: CurrentUser
    home: Path

    def loop(self, lead_id: str = "l1") -> Task:
        return add_task(self.session, self.practice, kind="close_loop", subject_id="p1",
                        lead_id=lead_id, referrer_patient_id="p1")

    def close(self, task: Task, *, send: bool = True, disposition: str = "loop_closed",
              now: datetime = NOW, **patient: Any) -> DispositionResult:
        referrer = {"first_name": "Ann", "email": "ann@example.test", "phone": "+12125550101"}
        conn = snapshot(
            mart_patients=[patient_row("p1", **(referrer | patient))],
            mart_leads=[lead_row("l1", "p1", lead_first_name="Zed", status="booked")],
        )
        claimed = claim_next(session=self.session, user=self.user, now=now)
        assert claimed is not None and claimed.task_id == task.task_id
        return log_disposition(
            session=self.session, user=self.user, task_id=task.task_id or 0,
            claim_version=claimed.claim_version, disposition=disposition, minutes=3, notes="",
            callback_at=None, lead=None, now=now, send_thank_you=send,
            referrer_lookup=lambda slug, pid, lid: read_referrer(
                conn, practice_slug=slug, patient_id=pid, lead_id=lid),
        )

    def messages(self) -> list[Message]:
        return list(self.session.exec(
            select(Message).execution_options(populate_existing=True)).all())


@pytest.fixture
def desk(loopdesk_home: Path) -> Iterator[Desk]:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        yield Desk(session, practice, add_worker(session, practices=["smile-ny"]), loopdesk_home)


def test_loop_closed_queues_one_email_thank_you(desk: Desk) -> None:
    task = desk.loop()
    result = desk.close(task)
    [message] = desk.messages()
    assert result.thank_you_message_id == message.message_id
    assert result.to_json()["thank_you_message_id"] == message.message_id
    assert (message.channel, message.recipient, message.purpose, message.status) == (
        "email", "ann@example.test", "loop_close", "queued")
    assert message.idempotency_key == "loop_close:smile-ny:l1"
    assert (message.subject_id, message.lead_id, message.task_id) == ("p1", "l1", task.task_id)
    assert "Ann" in message.body and BOOKED in message.body
    assert "Zed" not in message.body + message.subject  # nothing about the friend but the outcome


def test_without_email_consent_it_goes_by_text(desk: Desk) -> None:
    desk.close(desk.loop(), consent_email=False)
    [message] = desk.messages()
    assert (message.channel, message.recipient, message.template) == (
        "sms", "+12125550101", "loop_close_sms")


def test_an_email_revocation_in_the_console_falls_back_to_text(desk: Desk) -> None:
    revoke_consent(session=desk.session, practice_slug="smile-ny", subject_type="patient",
                   subject_id="p1", source="test", now=NOW - timedelta(days=1),
                   channels=("email",))
    desk.session.commit()
    desk.close(desk.loop())
    assert [m.channel for m in desk.messages()] == ["sms"]


@pytest.mark.parametrize(
    ("send", "patient"),
    [
        (True, {"consent_email": False, "consent_text": False}),
        (True, {"do_not_contact": True}),
        (True, {"practice_slug": "elsewhere"}),  # the referrer is not in the snapshot
        (True, {"consent_email": False, "phone": None}),
        (False, {}),
    ],
)
def test_no_message_without_consent_or_without_asking(desk: Desk, send: bool,
                                                     patient: dict[str, Any]) -> None:
    task = desk.loop()
    result = desk.close(task, send=send, **patient)
    assert result.task_status == "done" and result.thank_you_message_id is None
    assert desk.messages() == []


def test_a_retry_queues_nothing_twice(desk: Desk) -> None:
    first = desk.close(desk.loop())
    # Another loop task about the same lead, the next day (the fatigue cap allows the call).
    second = desk.close(desk.loop(), now=NOW + timedelta(days=1))
    assert first.thank_you_message_id is not None and second.thank_you_message_id is None
    again = queue_thank_you(session=desk.session, task=desk.loop(), practice=desk.practice,
                            referrer=read_referrer(snapshot(mart_patients=[patient_row("p1")]),
                                                   practice_slug="smile-ny", patient_id="p1",
                                                   lead_id="l1"), now=NOW)
    assert again is None and len(desk.messages()) == 1


def test_the_thank_you_goes_only_with_loop_closed(desk: Desk) -> None:
    with pytest.raises(UserError, match="only with loop_closed"):
        desk.close(desk.loop(), disposition="voicemail")
    desk.session.rollback()
    assert desk.messages() == []


def test_the_practice_decides_how_much_the_referrer_hears(desk: Desk) -> None:
    desk.session.add(OutreachSettings(practice_slug="smile-ny", outcome_detail="none"))
    desk.session.commit()
    desk.close(desk.loop())
    [message] = desk.messages()
    assert IN_TOUCH in message.body and "booked" not in message.body


def test_a_console_outcome_overrides_the_exported_status(desk: Desk) -> None:
    record_lead_event(session=desk.session, practice_slug="smile-ny", lead_id="l1",
                      event="declined", now=NOW - timedelta(hours=2))
    desk.session.commit()
    desk.close(desk.loop())
    [message] = desk.messages()
    assert IN_TOUCH in message.body and BOOKED not in message.body


def test_automate_sends_it_through_the_gate(desk: Desk) -> None:
    desk.close(desk.loop())
    with smtp_server() as (mailbox, port):
        channels, _ = channels_for(port, desk.home)
        today = send_due(session=desk.session, channels=channels, now=NOW + timedelta(hours=1))
        tomorrow = send_due(session=desk.session, channels=channels, now=NOW + timedelta(days=1))
    # The closing call was today's touch (fatigue cap 1/day): the message goes the next day.
    assert (today.sent, today.skipped_gate, tomorrow.sent) == (0, 1, 1)
    assert mailbox.recipients() == ["ann@example.test"]
    assert [m.status for m in desk.messages()] == ["sent"]


def test_no_snapshot_means_no_referrer(loopdesk_home: Path) -> None:
    assert published_referrer("smile-ny", "p1", "l1") is None
