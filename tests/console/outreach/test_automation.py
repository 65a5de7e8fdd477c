"""The automated ask: one per eligible patient, never twice; follow-ups; call tasks otherwise."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, select

from console.messaging.referral_links import verify_code
from console.models.outreach import Message
from console.models.work import Task
from console.outreach.automation import run_automation
from console.work.refresh import refresh_tasks
from tests.console.outreach_support import (
    channels_for,
    session_on,
    smtp_server,
    world_snapshot,
)
from tests.factories import NOW, add_practice, sqlite_engine


def _messages(session: Session) -> list[Message]:
    return list(session.exec(select(Message).execution_options(populate_existing=True)).all())


def test_automate_sends_one_ask_per_consenting_patient_and_nothing_twice(
    loopdesk_home: Path,
) -> None:
    engine = sqlite_engine(loopdesk_home)
    session = session_on(engine)
    add_practice(session)
    with smtp_server() as (mailbox, port):
        channels, sms = channels_for(port, loopdesk_home)
        first = run_automation(session=session, snapshot=world_snapshot(), channels=channels,
                               now=NOW)
        second = run_automation(session=session, snapshot=world_snapshot(), channels=channels,
                                now=NOW + timedelta(hours=1))
    assert first.to_json() == {"queued": 2, "sent": 2, "failed": 0, "retried": 0,
                               "skipped_gate": 0, "follow_ups_created": 0}
    assert second.to_json() == {"queued": 0, "sent": 0, "failed": 0, "retried": 0,
                                "skipped_gate": 0, "follow_ups_created": 0}
    assert mailbox.recipients() == ["ann@example.test"]
    assert [text["to"] for text in sms.sent()] == ["+12125550102"]
    assert {m.subject_id for m in _messages(session)} == {"p-email", "p-sms"}


def test_ask_carries_a_working_personal_referral_link(loopdesk_home: Path) -> None:
    engine = sqlite_engine(loopdesk_home)
    session = session_on(engine)
    add_practice(session)
    with smtp_server() as (mailbox, port):
        channels, _ = channels_for(port, loopdesk_home)
        run_automation(session=session, snapshot=world_snapshot(), channels=channels, now=NOW)
    body = mailbox.received[0][1]
    code = body.split("/r/", 1)[1].split()[0]
    row = verify_code(session=session, code=code, now=NOW)
    assert (row.practice_slug, row.patient_id) == ("smile-ny", "p-email")
    assert "Smile-Ny" in body and "Ann" in body


def test_two_concurrent_runs_never_send_twice(loopdesk_home: Path) -> None:
    engine = sqlite_engine(loopdesk_home)
    add_practice(session_on(engine))
    results = []
    with smtp_server() as (mailbox, port):
        channels, sms = channels_for(port, loopdesk_home)
        snapshots = [world_snapshot() for _ in range(4)]

        def run(index: int) -> None:
            with session_on(engine) as session:
                results.append(run_automation(session=session, snapshot=snapshots[index],
                                              channels=channels, now=NOW))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(results) == 4
    assert sorted(mailbox.recipients()) == ["ann@example.test"]
    assert len(sms.sent()) == 1
    assert sum(r.sent for r in results) == 2
    assert sum(r.queued for r in results) == 2


def test_patient_without_email_or_text_consent_gets_a_call_task_instead(
    loopdesk_home: Path,
) -> None:
    engine = sqlite_engine(loopdesk_home)
    session = session_on(engine)
    add_practice(session)
    with smtp_server() as (_, port):
        channels, _ = channels_for(port, loopdesk_home)
        run_automation(session=session, snapshot=world_snapshot(), channels=channels, now=NOW)
    refresh_tasks(session=session, snapshot=world_snapshot(), now=NOW)
    open_asks = session.exec(select(Task).where(Task.kind == "ask")
                             .where(Task.status == "open")).all()
    assert [t.subject_id for t in open_asks] == ["p-call"]
    automated = session.exec(select(Task).where(Task.close_reason == "automated_ask")).all()
    assert sorted(t.subject_id for t in automated) == ["p-email", "p-sms"]
    assert "p-call" not in {m.subject_id for m in _messages(session)}


def test_open_ask_task_is_taken_over_not_duplicated(loopdesk_home: Path) -> None:
    engine = sqlite_engine(loopdesk_home)
    session = session_on(engine)
    add_practice(session)
    refresh_tasks(session=session, snapshot=world_snapshot(), now=NOW)
    with smtp_server() as (_, port):
        channels, _ = channels_for(port, loopdesk_home)
        run_automation(session=session, snapshot=world_snapshot(), channels=channels, now=NOW)
    tasks = session.exec(select(Task).where(Task.kind == "ask")
                         .execution_options(populate_existing=True)).all()
    by_subject = {t.subject_id: (t.status, t.close_reason) for t in tasks}
    assert by_subject == {"p-email": ("done", "automated_ask"),
                          "p-sms": ("done", "automated_ask"), "p-call": ("open", None)}


def test_no_reply_within_five_days_creates_one_follow_up_call(loopdesk_home: Path) -> None:
    engine = sqlite_engine(loopdesk_home)
    session = session_on(engine)
    add_practice(session)
    with smtp_server() as (_, port):
        channels, _ = channels_for(port, loopdesk_home)
        run_automation(session=session, snapshot=world_snapshot(), channels=channels, now=NOW)
        early = run_automation(session=session, snapshot=None, channels=channels,
                               now=NOW + timedelta(days=4))
        due = run_automation(session=session, snapshot=None, channels=channels,
                             now=NOW + timedelta(days=5))
        again = run_automation(session=session, snapshot=None, channels=channels,
                               now=NOW + timedelta(days=6))
    assert (early.follow_ups_created, due.follow_ups_created, again.follow_ups_created) == (
        0, 2, 0)
    follow_ups = session.exec(select(Task).where(Task.kind == "follow_up")).all()
    assert sorted(t.subject_id for t in follow_ups) == ["p-email", "p-sms"]
    assert all(t.status == "open" and t.natural_key.endswith(":automated") for t in follow_ups)


def test_a_pass_routes_each_target_by_its_own_revocations_and_addresses(
    loopdesk_home: Path,
) -> None:
    # The pass reads the revocations and undeliverable addresses of all its targets at once:
    # each target must still get its own verdict (latest consent event per channel wins).
    from console.contact.consent import grant_consent, revoke_consent
    from console.models.outreach import UndeliverableAddress
    from tests.factories import ask_row, patient_row

    engine = sqlite_engine(loopdesk_home)
    session = session_on(engine)
    add_practice(session)
    for person in ("p-revoked", "p-regranted"):
        revoke_consent(session=session, practice_slug="smile-ny", subject_type="patient",
                       subject_id=person, source="test", now=NOW - timedelta(days=3),
                       channels=("email",))
    grant_consent(session=session, practice_slug="smile-ny", subject_type="patient",
                  subject_id="p-regranted", channel="email", source="test",
                  now=NOW - timedelta(days=1))
    session.add(UndeliverableAddress(practice_slug="smile-ny", channel="email",
                                     address="bounce@example.test", reason="550",
                                     marked_at=NOW - timedelta(days=1)))
    session.commit()
    people = {"p-revoked": "rev", "p-regranted": "regrant", "p-bounced": "bounce",
              "p-twice": "twice"}
    patients = [patient_row(person, email=f"{name}@example.test",
                            phone=f"+1212555{index:04d}")
                for index, (person, name) in enumerate(people.items())]
    asks = [ask_row(person, f"t-{person}") for person in people] + [ask_row("p-twice", "t-2nd")]
    with smtp_server() as (mailbox, port):
        channels, sms = channels_for(port, loopdesk_home)
        result = run_automation(
            session=session, channels=channels, now=NOW,
            snapshot=world_snapshot(mart_patients=patients, mart_ask_candidates=asks))
    routes = {(m.subject_id, m.channel, m.recipient) for m in _messages(session)
              if m.subject_id in people}
    assert routes == {("p-revoked", "sms", "+12125550000"),
                      ("p-regranted", "email", "regrant@example.test"),
                      ("p-bounced", "sms", "+12125550002"),
                      ("p-twice", "email", "twice@example.test")}
    assert result.queued == 2 + len(people)  # p-email, p-sms, and one ask per person here
    assert sorted(mailbox.recipients()) == ["ann@example.test", "regrant@example.test",
                                            "twice@example.test"]
    assert len(sms.sent()) == 3
