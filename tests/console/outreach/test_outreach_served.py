"""The real processes end to end: `automate` mails an ask to a real SMTP server, `serve` answers
its one-click URL and a signed SMS webhook on the port the link names."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from email import policy
from email.parser import Parser
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlmodel import select

from console.messaging.outbox import NewMessage, enqueue
from console.models.work import ConsentEvent
from console.outreach.replies import webhook_signature
from tests.console.outreach_support import free_port, session_on, smtp_server
from tests.factories import NOW, add_practice, sqlite_engine

LOOPDESK = [str(Path(sys.executable).with_name("loopdesk"))]
WEBHOOK_SECRET = "served-webhook-secret-0123456789abcdef"


@pytest.fixture
def served(loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`loopdesk serve` on a free port of this home; its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("LOOPDESK_PUBLIC_BASE_URL", base)
    monkeypatch.setenv("LOOPDESK_SMS_WEBHOOK_SECRET", WEBHOOK_SECRET)
    server = subprocess.Popen([*LOOPDESK, "serve", "--port", str(port)], env=dict(os.environ),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    listening = threading.Event()
    log: list[str] = []

    def drain() -> None:
        assert server.stderr is not None
        for line in server.stderr:
            log.append(line)
            if "running on" in line.lower():
                listening.set()
        listening.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        # Wait on the server's own log line (an event, not a sleep).
        assert listening.wait(timeout=120) and server.poll() is None, "".join(log)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        reader.join(timeout=30)
    joined = "".join(log)
    assert "/u/ey" not in joined and "ann@" not in joined  # no token or address in the log


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    response = httpx.post(url, content=body, timeout=30, headers={
        "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
    return response.status_code, response.text


def test_the_mailed_one_click_url_and_the_sms_webhook_work_on_the_served_port(
    loopdesk_home: Path, served: str,
) -> None:
    engine = sqlite_engine(loopdesk_home)
    session = session_on(engine)
    add_practice(session)
    enqueue(session=session, now=NOW, message=NewMessage(
        idempotency_key="ask:smile-ny:p-1:t-1", practice_slug="smile-ny", subject_type="patient",
        subject_id="p-1", patient_id="p-1", purpose="ask", channel="email",
        template="ask_email", recipient="ann@example.test", subject="Hi", body="Body"))
    session.commit()
    with smtp_server() as (mailbox, smtp_port):
        subprocess.run([*LOOPDESK, "automate"], check=True, timeout=120,
                       env={**os.environ, "LOOPDESK_SMTP_PORT": str(smtp_port)},
                       capture_output=True)
    [(_, content)] = mailbox.received
    mail = Parser(policy=policy.default).parsestr(content)
    [one_click] = [t.strip().strip("<>") for t in str(mail["List-Unsubscribe"]).split(",")
                   if t.strip().startswith("<http")]
    assert one_click.startswith(f"{served}/u/")
    first = _post(one_click, b"List-Unsubscribe=One-Click")
    second = _post(one_click, b"List-Unsubscribe=One-Click")
    assert first[0] == second[0] == 200 and "unsubscribed" in second[1]
    with session_on(engine) as fresh:
        events = fresh.exec(select(ConsentEvent)).all()
    assert [(e.subject_id, e.channel, e.granted) for e in events] == [("p-1", "email", False)]

    body = urlencode({"From": "+12125550199", "To": "+13125550000", "Body": "STOP",
                      "MessageSid": "SM-served"}).encode()
    stamp = str(int(NOW.timestamp()))
    signature = webhook_signature(secret=WEBHOOK_SECRET.encode(), timestamp=stamp, body=body)
    signed = _post(f"{served}/hooks/sms", body, {"X-Loopdesk-Timestamp": stamp,
                                                 "X-Loopdesk-Signature": signature})
    unsigned = _post(f"{served}/hooks/sms", body)
    assert signed[0] == 200 and '"status":"recorded"' in signed[1].replace(" ", "")
    assert unsigned[0] == 401
