"""`loopdesk queue`, `claim` and `log` through the real entry point and store."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.cli import main
from console.models.identity import Role
from console.platform.db import get_engine, init_db, new_session
from tests.factories import add_practice, add_task, add_user

QUEUE_KEYS = {"task_id", "kind", "practice_slug", "priority", "why", "due_at", "sla_deadline",
              "callable_now", "gate_reason", "status", "escalated"}


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run(loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    engine = get_engine()
    init_db(engine)
    with new_session(engine) as session:
        mine = add_practice(session, "mine")
        add_practice(session, "theirs")
        add_task(session, mine, case_value=9000)
        add_task(session, session.get(type(mine), "theirs"), case_value=50000)  # type: ignore[arg-type]
        add_user(session, "coord@agency.test", practices=["mine"])
        add_user(session, "boss@agency.test", role=Role.manager)

    def invoke(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["loopdesk", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main()
        captured = capsys.readouterr()
        return Result(int(exit_info.value.code or 0), captured.out, captured.err)

    return invoke


def test_queue_json_is_the_users_own_queue(run) -> None:  # type: ignore[no-untyped-def]
    result = run("queue", "--as", "coord@agency.test", "--json")
    assert result.code == 0
    entries = json.loads(result.out)
    assert [e["practice_slug"] for e in entries] == ["mine"]
    assert set(entries[0]) == QUEUE_KEYS and entries[0]["callable_now"] is True
    boss = json.loads(run("queue", "--as", "BOSS@agency.test", "--json", "--limit", "1").out)
    assert [e["practice_slug"] for e in boss] == ["theirs"]


def test_claim_then_log_then_nothing_left(run) -> None:  # type: ignore[no-untyped-def]
    claimed = json.loads(run("claim", "--as", "coord@agency.test", "--json").out)
    assert claimed["practice_slug"] == "mine" and claimed["claim_version"] == 1
    logged = run("log", str(claimed["task_id"]), "--as", "coord@agency.test",
                 "--disposition", "voicemail", "--minutes", "3", "--json")
    assert logged.code == 0, logged.err
    body = json.loads(logged.out)
    assert body["task_status"] == "done" and body["next_task_id"] is not None
    assert json.loads(run("claim", "--as", "coord@agency.test", "--json").out) is None


def test_referred_lead_from_the_command_line(run) -> None:  # type: ignore[no-untyped-def]
    claimed = json.loads(run("claim", "--as", "coord@agency.test", "--json").out)
    logged = run("log", str(claimed["task_id"]), "--as", "coord@agency.test",
                 "--disposition", "referred", "--lead-first-name", "Ana",
                 "--lead-phone", "212-555-0142", "--json")
    assert logged.code == 0, logged.err
    assert json.loads(logged.out)["lead_id"].startswith("c-")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("claim", "--as", "nobody@agency.test"), "no active user"),
        (("log", "1", "--as", "coord@agency.test", "--disposition", "no_answer"),
         "not held by you"),
    ],
)
def test_user_mistakes_are_one_line_errors(run, args: tuple[str, ...],  # type: ignore[no-untyped-def]
                                           message: str) -> None:
    result = run(*args)
    assert result.code == 2 and message in result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


def test_unknown_disposition_is_a_one_line_error(run) -> None:  # type: ignore[no-untyped-def]
    claimed = json.loads(run("claim", "--as", "coord@agency.test", "--json").out)
    result = run("log", str(claimed["task_id"]), "--as", "coord@agency.test",
                 "--disposition", "ghosted")
    assert result.code == 2 and "unknown disposition" in result.err
