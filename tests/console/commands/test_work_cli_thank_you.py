"""`loopdesk log … --disposition loop_closed --send-thank-you` through the real entry point."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import select

import console.work.dispositions
from console.cli import main
from console.models.outreach import Message
from console.platform.db import get_engine, init_db, new_session
from console.work.loop_closure import Referrer
from tests.factories import add_practice, add_task, add_user

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Run:
    engine = get_engine()
    init_db(engine)
    with new_session(engine) as session:
        practice = add_practice(session, "mine")
        add_task(session, practice, kind="close_loop", subject_id="p1", lead_id="l1",
                 referrer_patient_id="p1")
        add_user(session, "coord@agency.test", practices=["mine"])
    referrer = Referrer(first_name="Ann", email="ann@example.test", phone=None,
                        consent_email=True, consent_text=False, do_not_contact=False,
                        lead_status="booked")
    # The published snapshot stands in for a built world.
    monkeypatch.setattr(console.work.dispositions, "published_referrer",
                        lambda slug, pid, lid: referrer if (slug, pid) == ("mine", "p1") else None)

    def invoke(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["loopdesk", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main()
        captured = capsys.readouterr()
        return int(exit_info.value.code or 0), captured.out, captured.err

    return invoke


def _messages() -> list[Message]:
    with new_session(get_engine()) as session:
        return list(session.exec(select(Message)).all())


def test_log_loop_closed_with_a_thank_you(run: Run) -> None:
    task_id = json.loads(run("claim", "--as", "coord@agency.test", "--json")[1])["task_id"]
    code, out, err = run("log", str(task_id), "--as", "coord@agency.test", "--disposition",
                         "loop_closed", "--send-thank-you", "--json")
    assert code == 0, err
    [message] = _messages()
    assert json.loads(out)["thank_you_message_id"] == message.message_id
    assert (message.channel, message.recipient) == ("email", "ann@example.test")


def test_log_loop_closed_without_the_flag_sends_nothing(run: Run) -> None:
    task_id = json.loads(run("claim", "--as", "coord@agency.test", "--json")[1])["task_id"]
    code, out, _ = run("log", str(task_id), "--as", "coord@agency.test", "--disposition",
                       "loop_closed")
    assert code == 0 and "thank-you" not in out and _messages() == []


def test_the_flag_with_another_disposition_is_a_one_line_error(run: Run) -> None:
    task_id = json.loads(run("claim", "--as", "coord@agency.test", "--json")[1])["task_id"]
    code, _, err = run("log", str(task_id), "--as", "coord@agency.test", "--disposition",
                       "voicemail", "--send-thank-you")
    assert code == 2 and "only with loop_closed" in err and err.count("\n") == 1
    assert _messages() == []
