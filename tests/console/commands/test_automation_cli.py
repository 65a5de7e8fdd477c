"""The `automate` and `inbound` commands: JSON shapes and one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app, main
from console.lifecycle.ops_export import export_operational_events
from console.messaging.outbox import NewMessage, enqueue
from tests.console.outreach_support import session_on
from tests.factories import NOW, add_practice, sqlite_engine

runner = CliRunner()


def test_automate_json_shape_without_a_snapshot(loopdesk_home: Path) -> None:
    result = runner.invoke(app, ["automate", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        '{"queued": 0, "sent": 0, "failed": 0, "retried": 0, "skipped_gate": 0, '
        '"follow_ups_created": 0}'
    )


def test_inbound_opt_out_prints_no_address(loopdesk_home: Path) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    add_practice(session)
    enqueue(session=session, now=NOW, message=NewMessage(
        idempotency_key="k", practice_slug="smile-ny", subject_type="patient",
        subject_id="p-1", patient_id="p-1", purpose="ask", channel="sms", template="ask_sms",
        recipient="+12125550102", subject="", body="hi"))
    session.commit()
    result = runner.invoke(app, ["inbound", "--channel", "sms", "--from", "+1 212 555 0102",
                                 "--text", "Stop please"])
    assert result.exit_code == 0, result.output
    assert "opt-out recorded for 1 person" in result.stdout
    assert "555" not in result.stdout
    exported = export_operational_events(session=session_on(sqlite_engine(loopdesk_home)))
    assert exported["ops_messages"].num_rows == 1  # the ask was cancelled; the confirmation stays
    assert exported["ops_messages"].column("purpose").to_pylist() == ["opt_out_confirmation"]


def test_inbound_bad_channel_is_a_user_error(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["loopdesk", "inbound", "--channel", "fax", "--from", "x",
                                      "--text", "hi"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: --channel must be one of")
