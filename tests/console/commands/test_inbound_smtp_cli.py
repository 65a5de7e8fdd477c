"""`loopdesk inbound-smtp --port P`: the real command receives a reply and refuses strangers."""

from __future__ import annotations

import os
import shutil
import smtplib
import subprocess
import sys
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import select

from console.cli import main
from console.messaging.delivery import reply_address
from console.messaging.outbox import NewMessage, enqueue
from console.models.work import ConsentEvent
from tests.console.outreach_support import free_port, session_on
from tests.factories import NOW, add_practice, sqlite_engine

LOOPDESK = [shutil.which("loopdesk") or str(Path(sys.executable).parent / "loopdesk")]


def test_the_receiver_command_records_a_reply_and_refuses_other_addresses(
    loopdesk_home: Path,
) -> None:
    engine = sqlite_engine(loopdesk_home)
    session = session_on(engine)
    add_practice(session)
    message = enqueue(session=session, now=NOW, message=NewMessage(
        idempotency_key="ask:smile-ny:p-1:t-1", practice_slug="smile-ny", subject_type="patient",
        subject_id="p-1", patient_id="p-1", purpose="ask", channel="email",
        template="ask_email", recipient="ann@example.test", subject="Hi", body="Body"))
    session.commit()
    assert message is not None and message.delivery_key is not None
    port = free_port()
    server = subprocess.Popen([*LOOPDESK, "inbound-smtp", "--port", str(port)],
                              env=dict(os.environ), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    listening = threading.Event()
    output: list[str] = []

    def drain() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            output.append(line)
            if "receiving replies" in line:
                listening.set()
        listening.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        # Wait on the command's own start-up line (an event, not a sleep).
        assert listening.wait(timeout=60) and server.poll() is None, "".join(output)
        reply = EmailMessage()
        to = reply_address(message.delivery_key)
        reply["From"], reply["To"], reply["Subject"] = "ann@example.test", to, "Re: Hi"
        reply["Message-ID"] = "<stop-1@mail.example.test>"
        reply.set_content("STOP")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo()
            assert smtp.mail("x@example.test")[0] == 250
            assert smtp.rcpt("stranger@reply.loopdesk.local")[0] == 550
            smtp.rset()
            smtp.send_message(reply, from_addr="ann@example.test", to_addrs=[to])
    finally:
        server.terminate()
        server.wait(timeout=30)
        reader.join(timeout=30)
    with session_on(engine) as fresh:
        revoked = {e.channel for e in fresh.exec(select(ConsentEvent)).all() if not e.granted}
    assert revoked == {"call", "text", "email"}
    assert "ann@" not in "".join(output)  # no address in the receiver's log


def test_a_bad_port_is_a_one_line_error(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "argv", ["loopdesk", "inbound-smtp", "--port", "0"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "error: --port must be between 1 and 65535"
