"""`loopdesk reports send` on the PostgreSQL store: two concurrent runs send each practice's
report once, and the PDF survives the bytea round trip of the outbox's attachment table."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from datetime import datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from sqlmodel import Session, select

from console.models.outreach import MessageAttachment
from console.models.practice import PracticeSettings
from console.platform.db import get_engine, init_db
from tests.console.outreach_support import smtp_server
from tests.postgres import fresh_database
from tests.worlds import FIXED_NOW, build_generated_world, point_at_home

pytestmark = pytest.mark.postgres
LOOPDESK = str(Path(sys.executable).with_name("loopdesk"))


def test_concurrent_runs_on_postgres_send_each_report_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    point_at_home(monkeypatch, home)
    # The warehouse snapshot is built once on the default store (the build has its own
    # PostgreSQL tests); the operational store the reports go through is PostgreSQL.
    build_generated_world(tmp_path / "drop", practices=2, seed=3, months=2,
                          now=datetime.fromisoformat(FIXED_NOW))
    with Session(get_engine()) as session:
        practices = sorted((PracticeSettings.model_validate(p.model_dump())
                            for p in session.exec(select(PracticeSettings)).all()),
                           key=lambda p: p.practice_slug)
    with fresh_database("loopdesk_reports") as url:
        monkeypatch.setenv("LOOPDESK_DATABASE_URL", url)
        engine = get_engine()
        init_db(engine)
        with Session(engine) as session:
            for practice, address in zip(practices, ("a@one.test", "b@two.test"), strict=True):
                practice.report_recipients = address
                session.add(practice)
            session.commit()
        with smtp_server() as (mailbox, port):
            env = {**os.environ, "LOOPDESK_SMTP_HOST": "127.0.0.1",
                   "LOOPDESK_SMTP_PORT": str(port)}
            runs = [subprocess.Popen([LOOPDESK, "reports", "send", "--month", "2026-10",
                                      "--json"], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for _ in range(2)]
            outputs = [run.communicate(timeout=300) for run in runs]
            assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
        results = [json.loads(out) for out, _ in outputs]
        assert sum(r["queued"] for r in results) == 2
        assert sorted(to for tos, _ in mailbox.received for to in tos) == [
            "a@one.test", "b@two.test"]
        for _, content in mailbox.received:
            message = email.message_from_string(content, policy=default_policy)
            assert isinstance(message, EmailMessage)
            (attachment,) = list(message.iter_attachments())
            assert attachment.get_content()[:4] == b"%PDF"
        with Session(engine) as session:
            stored = session.exec(select(MessageAttachment)).all()
        assert len(stored) == 2 and all(bytes(a.content)[:4] == b"%PDF" for a in stored)
        engine.dispose()
