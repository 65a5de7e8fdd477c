"""Each disposition's next action (DOMAIN.md table), logged on a claimed task."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from console.identity.access import CurrentUser
from console.models.practice import PracticeSettings
from console.models.work import ConsentEvent, Lead, LeadEvent, Task, Touch
from console.platform.errors import UserError
from console.work.claims import claim_next
from console.work.dispositions import DispositionResult, log_disposition
from console.work.leads import LeadInput
from tests.factories import NOW, add_practice, add_task, add_worker, session_for, sqlite_engine


@dataclass
class Desk:
    """A practice, a coordinator and a way to claim and log."""

    session: Session
    practice: PracticeSettings
    user: CurrentUser

    def claim(self, task: Task, now: datetime = NOW) -> int:
        claimed = claim_next(session=self.session, user=self.user, now=now)
        assert claimed is not None and claimed.task_id == task.task_id
        return claimed.claim_version

    def log(self, task: Task, disposition: str, *, now: datetime = NOW,
            **kwargs: Any) -> DispositionResult:
        held = self.task(task.task_id)
        holding = held.status == "claimed" and held.claimed_by == self.user.user_id
        version = held.claim_version if holding else self.claim(task, now)
        return log_disposition(
            session=self.session, user=self.user, task_id=task.task_id or 0,
            claim_version=version, disposition=disposition, minutes=kwargs.pop("minutes", 4),
            notes=kwargs.pop("notes", ""), callback_at=kwargs.pop("callback_at", None),
            lead=kwargs.pop("lead", None), now=now,
        )

    def task(self, task_id: int | None) -> Task:
        found = self.session.get(Task, task_id, populate_existing=True)
        assert found is not None
        return found


@pytest.fixture
def desk(loopdesk_home: Path) -> Iterator[Desk]:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        yield Desk(session, practice, add_worker(session, practices=["smile-ny"]))


def test_no_answer_and_voicemail_retry_after_one_and_two_business_days(desk: Desk) -> None:
    ask = add_task(desk.session, desk.practice)
    result = desk.log(ask, "no_answer", minutes=2)
    follow = desk.task(result.next_task_id)
    # Thursday 10:00 local + 1 business day = Friday 10:00 local.
    assert follow.kind == "follow_up" and follow.attempt == 2
    assert follow.due_at == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert follow.source_task_id == ask.task_id and desk.task(ask.task_id).status == "done"
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    second = desk.task(desk.log(follow, "voicemail", now=friday).next_task_id)
    assert second.attempt == 3 and second.due_at == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    tuesday = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    last = desk.log(second, "no_answer", now=tuesday)
    assert last.next_task_id is None  # three attempts: the chain stops
    touches = desk.session.exec(select(Touch)).all()
    assert [t.minutes for t in touches] == [2, 4, 4]


def test_callback_requested_follows_up_at_the_time(desk: Desk) -> None:
    ask = add_task(desk.session, desk.practice)
    when = NOW + timedelta(days=2, hours=3)
    follow = desk.task(desk.log(ask, "callback_requested", callback_at=when).next_task_id)
    assert follow.kind == "follow_up" and follow.due_at == when


def test_callback_needs_a_future_time(desk: Desk) -> None:
    ask = add_task(desk.session, desk.practice)
    with pytest.raises(UserError, match="callback"):
        desk.log(ask, "callback_requested", callback_at=NOW - timedelta(hours=1))


def test_willing_no_name_follows_up_in_fourteen_days_once(desk: Desk) -> None:
    ask = add_task(desk.session, desk.practice)
    follow = desk.task(desk.log(ask, "willing_no_name").next_task_id)
    assert follow.due_at == NOW + timedelta(days=14)
    later = NOW + timedelta(days=14)
    again = desk.log(follow, "willing_no_name", now=later)
    assert again.next_task_id == follow.task_id  # same key: no second reminder


def test_referred_creates_a_lead_and_a_contact_task(desk: Desk) -> None:
    ask = add_task(desk.session, desk.practice, subject_id="p1")
    result = desk.log(ask, "referred", lead=LeadInput("Ana", "Friend", phone="(212) 555-0142"))
    lead = desk.session.get(Lead, ("smile-ny", result.lead_id))
    assert lead is not None and lead.source == "coordinator" and lead.phone == "+12125550142"
    assert lead.referrer_patient_id == "p1"
    contact = desk.task(result.next_task_id)
    assert contact.kind == "contact_lead" and contact.subject_id == lead.lead_id
    # Thursday 10:00 local + 1 business day.
    assert contact.sla_deadline == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def test_referred_without_phone_or_email_is_refused(desk: Desk) -> None:
    ask = add_task(desk.session, desk.practice)
    with pytest.raises(UserError, match="phone or an email"):
        desk.log(ask, "referred", lead=LeadInput("Ana"))
    assert desk.task(ask.task_id).status == "claimed"  # nothing changed


def test_declined_stops_other_asks(desk: Desk) -> None:
    ask = add_task(desk.session, desk.practice, subject_id="p1")
    other = add_task(desk.session, desk.practice, subject_id="p1", case_value=10,
                     due_at=NOW + timedelta(days=1))
    result = desk.log(ask, "declined")
    assert result.cancelled_tasks == 1 and desk.task(other.task_id).close_reason == "declined"


def test_wrong_number_closes_and_is_recorded(desk: Desk) -> None:
    ask = add_task(desk.session, desk.practice)
    result = desk.log(ask, "wrong_number")
    assert result.next_task_id is None and desk.task(ask.task_id).close_reason == "wrong_number"
    assert desk.session.exec(select(Touch.disposition)).all() == ["wrong_number"]


def test_opted_out_revokes_every_channel_and_cancels_open_tasks(desk: Desk) -> None:
    ask = add_task(desk.session, desk.practice, subject_id="p1")
    review = add_task(desk.session, desk.practice, kind="review_request", subject_id="p1",
                      due_at=NOW + timedelta(days=3))
    elsewhere = add_task(desk.session, desk.practice, subject_id="p2",
                         due_at=NOW + timedelta(days=3))
    result = desk.log(ask, "opted_out")
    assert result.cancelled_tasks == 1
    assert desk.task(review.task_id).close_reason == "opted_out"
    assert desk.task(elsewhere.task_id).status == "open"
    channels = desk.session.exec(select(ConsentEvent.channel, ConsentEvent.granted)).all()
    assert sorted(channels) == [("call", False), ("email", False), ("text", False)]


def test_lead_outcome_sets_status_and_opens_close_loop(desk: Desk) -> None:
    ask = add_task(desk.session, desk.practice, subject_id="p1")
    referred = desk.log(ask, "referred", lead=LeadInput("Ana", phone="+1 212 555 0143"))
    contact = desk.task(referred.next_task_id)
    booked = desk.log(contact, "lead_booked", now=NOW + timedelta(hours=1))
    loop = desk.task(booked.next_task_id)
    assert loop.kind == "close_loop" and loop.subject_id == "p1" and loop.lead_id == contact.lead_id
    lead = desk.session.get(Lead, ("smile-ny", contact.lead_id))
    assert lead is not None and lead.status == "booked"
    # The referrer was called today already (fatigue cap): the thank-you call is tomorrow.
    desk.log(loop, "loop_closed", now=NOW + timedelta(days=1))
    events = desk.session.exec(select(LeadEvent.event)).all()
    assert events == ["booked", "loop_closed"]


def test_a_close_loop_retry_that_reaches_the_referrer_closes_the_loop(desk: Desk) -> None:
    """The thank-you call's retry (a follow_up in the close_loop chain) may log loop_closed."""
    ask = add_task(desk.session, desk.practice, subject_id="p1")
    referred = desk.log(ask, "referred", lead=LeadInput("Ana", phone="+1 212 555 0143"))
    contact = desk.task(referred.next_task_id)
    loop = desk.task(desk.log(contact, "lead_booked", now=NOW + timedelta(hours=1)).next_task_id)
    retry = desk.task(desk.log(loop, "no_answer", now=NOW + timedelta(days=1)).next_task_id)
    assert retry.kind == "follow_up" and retry.lead_id == contact.lead_id
    monday = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # one business day after Friday
    desk.log(retry, "loop_closed", now=monday)
    events = desk.session.exec(select(LeadEvent.event)).all()
    assert events == ["booked", "loop_closed"]
    # An ask's retry still cannot: it thanks nobody.
    other = desk.task(desk.log(add_task(desk.session, desk.practice, subject_id="p9"),
                               "no_answer", now=monday).next_task_id)
    with pytest.raises(UserError, match="only to close_loop"):
        desk.log(other, "loop_closed", now=monday + timedelta(days=1))


def test_lead_retries_on_the_same_task_then_unreachable(desk: Desk) -> None:
    contact = add_task(desk.session, desk.practice, kind="contact_lead",
                       referrer_patient_id="p1")
    when = NOW
    for attempt in (1, 2, 3):
        result = desk.log(contact, "no_answer", now=when)
        retried = desk.task(contact.task_id)
        assert result.next_task_id is None and retried.status == "open"
        assert retried.attempt == attempt + 1
        when = retried.due_at
    # Three calls this week already: the weekly cap holds the fourth until a week later.
    final = desk.log(contact, "no_answer", now=max(when, NOW + timedelta(days=7)))
    assert desk.task(contact.task_id).status == "done"
    loop = desk.task(final.next_task_id)
    assert loop.kind == "close_loop" and loop.subject_id == "p1"
    assert desk.session.exec(select(LeadEvent.event)).all() == ["unreachable"]


def test_unknown_or_misplaced_disposition_is_a_user_error(desk: Desk) -> None:
    ask = add_task(desk.session, desk.practice)
    with pytest.raises(UserError, match="unknown disposition"):
        desk.log(ask, "maybe")
    with pytest.raises(UserError, match="does not apply"):
        desk.log(ask, "lead_booked")
