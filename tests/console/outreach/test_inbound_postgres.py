"""Replies, bounces and unsubscribes on the real PostgreSQL (CI: never skip)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, select

import console.models.registry  # noqa: F401  (registers every table)
from console.messaging.delivery import record_bounce
from console.messaging.outbox import NewMessage, enqueue
from console.models.outreach import InboundReply, Message, UndeliverableAddress
from console.models.work import ConsentEvent
from console.outreach.replies import InboundResult, record_inbound
from console.outreach.unsubscribe import unsubscribe
from console.platform.db import new_session
from tests.factories import NOW, add_practice
from tests.postgres import fresh_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(loopdesk_home: object) -> Iterator[Engine]:
    """An engine on a fresh database with one practice and one sent email, dropped afterwards."""
    with fresh_database("loopdesk_inbound") as url:
        engine = create_engine(url)
        try:
            SQLModel.metadata.create_all(engine)
            with new_session(engine) as session:
                add_practice(session)
                sent = enqueue(session=session, now=NOW - timedelta(days=1), message=NewMessage(
                    idempotency_key="ask:smile-ny:p-1:t-1", practice_slug="smile-ny",
                    subject_type="patient", subject_id="p-1", patient_id="p-1",
                    purpose="ask", channel="email", template="ask_email",
                    recipient="ann@example.test", subject="Hi", body="Body"))
                assert sent is not None
                sent.status, sent.sent_at = "sent", NOW - timedelta(days=1)
                session.add(sent)
                session.commit()
            yield engine
        finally:
            engine.dispose()


def test_the_same_provider_message_delivered_concurrently_is_recorded_once(
    pg_engine: Engine,
) -> None:
    results: list[InboundResult] = []
    start = threading.Barrier(6)

    def deliver() -> None:
        with new_session(pg_engine) as session:
            start.wait()
            results.append(record_inbound(session=session, channel="email",
                                          address="ann@example.test", text="Thanks!", now=NOW,
                                          provider_message_id="<same@mail.example.test>"))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.duplicate for r in results) == [False] + [True] * 5
    with new_session(pg_engine) as session:
        assert len(session.exec(select(InboundReply)).all()) == 1
        assert session.exec(select(Message.status)).one() == "replied"


def test_bounce_and_unsubscribe_work_on_postgres(pg_engine: Engine) -> None:
    with new_session(pg_engine) as session:
        message = session.exec(select(Message)).one()
        assert message.unsubscribe_url is not None
        token = message.unsubscribe_url.rsplit("/", 1)[1]
        unsubscribe(session=session, token=token, now=NOW)
        unsubscribe(session=session, token=token, now=NOW)
        assert record_bounce(session=session, message=message, reason="bounced: 5.1.1", now=NOW)
        session.commit()
        assert not record_bounce(session=session, message=message, reason="bounced: 5.1.1",
                                 now=NOW)
        session.commit()
        events = session.exec(select(ConsentEvent)).all()
        marked = session.exec(select(UndeliverableAddress)).all()
    assert [(e.channel, e.granted) for e in events] == [("email", False)]
    assert [(m.channel, m.address) for m in marked] == [("email", "ann@example.test")]
