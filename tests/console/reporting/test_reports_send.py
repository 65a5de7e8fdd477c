"""`loopdesk reports send` against a real local SMTP server: one email per practice-month with
the PDF attached, nothing more on a second or a concurrent run, skipped practices listed,
failed sends retried, every send audited."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from console.cli import app
from console.identity.users import add_user
from console.models.identity import AuditEvent, Role
from console.models.outreach import Message, MessageAttachment
from console.models.practice import PracticeSettings
from console.platform.db import get_engine, init_db
from console.platform.errors import UserError
from console.reporting.delivery import idempotency_key, parse_recipients
from console.reporting.monthly import Month
from tests.console.outreach_support import smtp_server
from tests.console.report_support import ReportWorld, pdf_text, report_world, run_main
from tests.worlds import FIXED_NOW, point_at_home

LOOPDESK = str(Path(sys.executable).with_name("loopdesk"))
runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportWorld]:
    """The built world with: an owner for the first practice, a manager-set recipient for the
    second, nobody for the third."""
    for built in report_world(tmp_path_factory, "reports-send-world"):
        with pytest.MonkeyPatch.context() as patch:
            point_at_home(patch, built.home)
            first, second, _ = sorted(built.practices)
            engine = get_engine()
            init_db(engine)
            with Session(engine, expire_on_commit=False) as session:
                add_user(session=session, email="owner@first.test", role=Role.client_owner,
                         password="a password long enough", practice_slugs=[first],
                         actor="system:test", now=datetime.fromisoformat(FIXED_NOW))
                practice = session.get(PracticeSettings, second)
                assert practice is not None
                practice.report_recipients = "Office@Second.test"
                session.add(practice)
                session.commit()
        yield built


@pytest.fixture(autouse=True)
def _home(world: ReportWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    point_at_home(monkeypatch, world.home)


def _send(port: int, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict:
    monkeypatch.setenv("LOOPDESK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LOOPDESK_SMTP_PORT", str(port))
    result = runner.invoke(app, ["reports", "send", "--json", *args])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def _parsed(content: str) -> EmailMessage:
    message = email.message_from_string(content, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def _pdf_of(message: EmailMessage) -> bytes:
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    payload = attachment.get_content()
    assert isinstance(payload, bytes)
    return payload


def test_one_email_per_practice_with_a_pdf_and_a_second_run_sends_nothing(
    world: ReportWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = sorted(world.practices)
    with smtp_server() as (mailbox, port):
        result = _send(port, monkeypatch, "--month", "2026-10")
        assert len(mailbox.received) == 2
        again = _send(port, monkeypatch, "--month", "2026-10")
        assert len(mailbox.received) == 2, "a second run must send nothing"
    rows = {row["practice_slug"]: row for row in result["practices"]}
    assert rows[first]["status"] == rows[second]["status"] == "queued"
    assert rows[first]["message_status"] == "sent"
    assert rows[third]["status"] == "skipped"
    assert rows[third]["reason"] == "no report recipient"
    assert result["queued"] == 2 and result["skipped"] == 1 and result["outbox"]["sent"] == 2
    assert {row["practice_slug"]: row["status"] for row in again["practices"]} == {
        first: "already_queued", second: "already_queued", third: "skipped"}
    assert again["outbox"]["sent"] == 0
    by_recipient = {tuple(tos): _parsed(content) for tos, content in mailbox.received}
    assert set(by_recipient) == {("owner@first.test",), ("office@second.test",)}
    for (recipient,), message in by_recipient.items():
        slug = first if recipient == "owner@first.test" else second
        pdf = _pdf_of(message)
        assert pdf[:4] == b"%PDF"
        assert world.practices[slug] in pdf_text(pdf)
        assert "October 2026" in str(message["Subject"])
        body = message.get_body(preferencelist=("plain",))
        assert body is not None and "Referred revenue in October 2026" in body.get_content()
    with Session(get_engine()) as session:
        audited = session.exec(select(AuditEvent.action, AuditEvent.practice_slug,
                                      AuditEvent.outcome)
                               .where(col(AuditEvent.action).like("monthly_report%"))).all()
    assert sorted(audited) == sorted([
        ("monthly_report_queued", first, "success"), ("monthly_report_queued", second, "success"),
        ("monthly_report_sent", first, "success"), ("monthly_report_sent", second, "success")])


def _cli(port: int, home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "LOOPDESK_HOME": str(home), "LOOPDESK_SMTP_HOST": "127.0.0.1",
           "LOOPDESK_SMTP_PORT": str(port)}
    return subprocess.Popen([LOOPDESK, "reports", "send", "--json", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_concurrent_runs_send_each_report_once(world: ReportWorld) -> None:
    with smtp_server() as (mailbox, port):
        runs = [_cli(port, world.home, "--month", "2026-08") for _ in range(2)]
        outputs = [run.communicate(timeout=300) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
        assert len(mailbox.received) == 2
    results = [json.loads(out) for out, _ in outputs]
    assert sum(r["queued"] for r in results) == 2
    assert sum(r["outbox"]["sent"] for r in results) == 2
    with Session(get_engine()) as session:
        keys = session.exec(select(Message.idempotency_key)
                            .where(col(Message.idempotency_key).like("%:2026-08"))).all()
    first, second, _ = sorted(world.practices)
    assert sorted(keys) == sorted([idempotency_key(first, Month(2026, 8)),
                                   idempotency_key(second, Month(2026, 8))])


def test_a_failed_send_is_retried_and_audited(world: ReportWorld,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    first = sorted(world.practices)[0]
    # A temporary refusal is retried; a permanent (5xx) one fails at once (issue 16).
    with smtp_server(refuse=True, refusal="451 4.3.0 try again later") as (_, port):
        refused = _send(port, monkeypatch, "--month", "2026-06")
    assert refused["outbox"] == {"sent": 0, "retried": 2, "failed": 0, "cancelled": 0}
    # After the outbox's backoff (5 minutes for the first retry) the next run delivers them.
    point_at_home(monkeypatch, world.home, "2026-11-26T15:06:00+00:00")
    with smtp_server() as (mailbox, port):
        retried = _send(port, monkeypatch, "--month", "2026-06")
    assert retried["queued"] == 0 and retried["outbox"]["sent"] == 2
    assert len(mailbox.received) == 2
    with Session(get_engine()) as session:
        message = session.exec(select(Message).where(
            Message.idempotency_key == idempotency_key(first, Month(2026, 6)))).one()
        assert message.status == "sent" and message.attempts == 2
        outcomes = session.exec(select(AuditEvent.outcome)
                                .where(AuditEvent.object_ref == f"message:{message.message_id}")
                                .where(AuditEvent.action == "monthly_report_sent")
                                .order_by(col(AuditEvent.seq))).all()
        stored = session.exec(select(MessageAttachment).where(
            MessageAttachment.message_id == message.message_id)).one()
    assert list(outcomes) == ["failure", "success"]
    assert stored.filename == f"loopdesk-report-{first}-2026-06.pdf"


def test_default_month_is_the_previous_month_in_the_practice_zone() -> None:
    # 03:00 UTC on December 1st is still November 30th in Los Angeles.
    now = datetime.fromisoformat("2026-12-01T03:00:00+00:00")
    assert Month.previous_in_zone(now, "America/Los_Angeles") == Month(2026, 10)
    assert Month.previous_in_zone(now, "UTC") == Month(2026, 11)
    assert Month.previous_in_zone(datetime.fromisoformat("2026-01-15T12:00:00+00:00"),
                                  "Europe/Berlin") == Month(2025, 12)


def test_recipients_are_validated() -> None:
    assert parse_recipients(" A@x.test; b@y.test , a@x.test ") == ["a@x.test", "b@y.test"]
    assert parse_recipients("") == []
    with pytest.raises(UserError, match="not an email address"):
        parse_recipients("a@x.test, nobody")


def test_an_inactive_practice_is_listed_as_skipped_and_gets_nothing(
    world: ReportWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = sorted(world.practices)[0]
    engine = get_engine()
    with Session(engine) as session:
        practice = session.get(PracticeSettings, first)
        assert practice is not None
        practice.active = False
        session.add(practice)
        session.commit()
    try:
        with smtp_server() as (mailbox, port):
            result = _send(port, monkeypatch, "--month", "2026-05")
        rows = {row["practice_slug"]: row for row in result["practices"]}
        assert rows[first]["status"] == "skipped"
        assert rows[first]["reason"] == "practice inactive"
        assert [tos for tos, _ in mailbox.received] == [["office@second.test"]]
    finally:
        with Session(engine) as session:
            practice = session.get(PracticeSettings, first)
            assert practice is not None
            practice.active = True
            session.add(practice)
            session.commit()


@pytest.mark.parametrize(("args", "fragment"), [
    (["--month", "2026-00"], "--month must look like 2026-10"),
    (["--month", "last"], "--month must look like 2026-10"),
    (["--month", "2027-01"], "--month 2027-01 has not started yet"),
])
def test_reports_send_user_mistakes_are_one_line(world: ReportWorld, args: list[str],
                                                 fragment: str, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(monkeypatch, capsys, "reports", "send", *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and fragment in err and err.count("\n") == 1


def test_reports_send_before_any_build_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    point_at_home(monkeypatch, tmp_path / "fresh")
    code, out, err = run_main(monkeypatch, capsys, "reports", "send", "--json")
    assert code == 2 and out == ""
    assert err.startswith("error: no data yet") and err.count("\n") == 1


def test_the_report_email_has_a_text_and_an_html_summary_beside_the_pdf(
    world: ReportWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_server() as (mailbox, port):
        _send(port, monkeypatch, "--month", "2026-09")
    assert mailbox.received
    for _tos, content in mailbox.received:
        message = _parsed(content)
        assert message.get_content_type() == "multipart/mixed"
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert text is not None and html is not None
        assert message.get_body(preferencelist=("related", "html", "plain")) is not None
        summary = text.get_content().split("\n", 1)[0].strip()
        assert summary and summary.split()[0] in html.get_content()
        # Staff get no patient unsubscribe headers or reply token.
        assert message["List-Unsubscribe"] is None and message["Reply-To"] is None
        assert _pdf_of(message)[:4] == b"%PDF"
