"""`POST /hooks/sms`: signed provider webhooks feed the reply handler once per message id."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from httpx import Response
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from console.messaging.outbox import NewMessage, enqueue
from console.models.outreach import InboundReply, Message
from console.models.work import ConsentEvent, Task
from console.outreach.replies import webhook_signature
from console.outreach.routes import OutreachServices, outreach_routes
from tests.console.outreach_support import session_on
from tests.factories import NOW, add_practice, add_task, sqlite_engine

SECRET = b"provider-shared-secret-for-tests"


@contextmanager
def _client(engine: Engine, secret: bytes | None = SECRET,
            wall: datetime | None = None) -> Iterator[TestClient]:
    @contextmanager
    def sessions() -> Iterator[Session]:
        with session_on(engine) as session:
            yield session

    @contextmanager
    def lookup() -> Iterator[object]:
        # The snapshot knows the patient by phone at a second practice too.
        yield lambda channel, address: ([("glow-az", "g-7")] if address == "+12125550102"
                                        else [])

    services = OutreachServices(sessions=sessions, now=lambda: NOW,
                                patient_lookup=lookup,  # type: ignore[arg-type]
                                sms_secret=lambda: secret, wall_now=lambda: wall)
    with TestClient(Starlette(routes=outreach_routes(services))) as client:
        yield client


def _post(client: TestClient, fields: dict[str, str], *, at: float | None = None,
          secret: bytes = SECRET, signed: bool = True, tamper: bool = False) -> Response:
    body = urlencode(fields).encode()
    stamp = str(int(at if at is not None else NOW.timestamp()))
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signed:
        headers["X-Loopdesk-Timestamp"] = stamp
        headers["X-Loopdesk-Signature"] = webhook_signature(secret=secret, timestamp=stamp,
                                                            body=body)
    if tamper:
        body = body.replace(b"STOP", b"YES!")
    return client.post("/hooks/sms", content=body, headers=headers)


@pytest.fixture
def world(loopdesk_home: Path) -> Engine:
    engine = sqlite_engine(loopdesk_home)
    session = session_on(engine)
    practice = add_practice(session)
    other = add_practice(session, "glow-az", timezone="America/Phoenix")
    add_task(session, practice, kind="review_request", subject_id="p-sms")
    add_task(session, other, kind="review_request", subject_id="g-7")
    sent = enqueue(session=session, now=NOW - timedelta(days=1), message=NewMessage(
        idempotency_key="ask:smile-ny:p-sms:t-2", practice_slug="smile-ny",
        subject_type="patient", subject_id="p-sms", patient_id="p-sms", purpose="ask",
        channel="sms", template="ask_sms", recipient="+12125550102", subject="", body="hi"))
    assert sent is not None
    sent.status, sent.sent_at = "sent", NOW - timedelta(days=1)
    session.add(sent)
    session.commit()
    return engine


def _state(engine: Engine) -> tuple[int, int, int, list[str]]:
    with session_on(engine) as session:
        events = len(session.exec(select(ConsentEvent)).all())
        replies = len(session.exec(select(InboundReply)).all())
        open_tasks = len(session.exec(select(Task).where(Task.status == "open")).all())
        statuses = [m.status for m in session.exec(select(Message)).all()]
    return events, replies, open_tasks, statuses


STOP = {"From": "+1 (212) 555-0102", "To": "+13125550000", "Body": "STOP", "MessageSid": "SM1"}


def test_signed_stop_revokes_every_channel_and_cancels_open_tasks(world: Engine) -> None:
    with _client(world) as client:
        response = _post(client, STOP)
    assert response.status_code == 200
    assert response.json()["opt_out"] is True
    with session_on(world) as session:
        events = session.exec(select(ConsentEvent)).all()
        tasks = session.exec(select(Task)).all()
    revoked = {(e.practice_slug, e.subject_id, e.channel) for e in events if not e.granted}
    assert revoked == {(slug, person, channel) for slug, person in
                       (("smile-ny", "p-sms"), ("glow-az", "g-7"))
                       for channel in ("call", "text", "email")}
    assert {t.status for t in tasks} == {"cancelled"}


def test_the_same_message_id_twice_is_handled_once(world: Engine) -> None:
    with _client(world) as client:
        first = _post(client, STOP)
        after_first = _state(world)
        second = _post(client, STOP)
    assert first.json()["status"] == "recorded"
    assert second.status_code == 200
    assert second.json()["status"] == "duplicate"
    assert _state(world) == after_first
    assert after_first[1] == 1


def test_an_ordinary_reply_stops_the_cadence(world: Engine) -> None:
    with _client(world) as client:
        response = _post(client, {**STOP, "Body": "Sure, I'll tell my sister",
                                  "MessageSid": "SM2"})
    assert response.json()["cadence_stopped"] is True
    events, _, open_tasks, statuses = _state(world)
    assert statuses == ["replied"] and events == 0 and open_tasks == 2


@pytest.mark.parametrize("problem", ["unsigned", "wrong secret", "tampered body", "stale",
                                     "from the future", "no secret configured"])
def test_bad_requests_are_401_and_change_nothing(world: Engine, problem: str) -> None:
    before = _state(world)
    secret = None if problem == "no secret configured" else SECRET
    with _client(world, secret=secret) as client:
        response = _post(
            client, STOP, signed=problem != "unsigned",
            secret=b"someone-else-entirely-00000000000" if problem == "wrong secret" else SECRET,
            tamper=problem == "tampered body",
            at=NOW.timestamp() - 301 if problem == "stale"
            else NOW.timestamp() + 301 if problem == "from the future" else None,
        )
    assert response.status_code == 401
    assert _state(world) == before


def test_a_request_without_sender_or_message_id_is_refused(world: Engine) -> None:
    before = _state(world)
    with _client(world) as client:
        no_id = _post(client, {"From": "+12125550102", "Body": "STOP"})
        no_from = _post(client, {"Body": "STOP", "MessageSid": "SM9"})
        bad_from = _post(client, {**STOP, "From": "not a phone", "MessageSid": "SM8"})
        flood = _post(client, {**STOP, **{f"f{i}": "x" for i in range(60)}})
    assert [r.status_code for r in (no_id, no_from, bad_from, flood)] == [400, 400, 400, 400]
    assert "phone" in bad_from.json()["error"]
    assert _state(world) == before


def test_with_a_pinned_clock_a_webhook_signed_with_real_time_is_accepted(world: Engine) -> None:
    wall = NOW + timedelta(days=10)  # LOOPDESK_NOW pins the app ten days in the past
    with _client(world, wall=wall) as client:
        real_time = _post(client, STOP, at=wall.timestamp() - 30)
        stale = _post(client, {**STOP, "MessageSid": "SM-old"}, at=wall.timestamp() - 301)
    assert real_time.status_code == 200 and stale.status_code == 401
