"""`loopdesk users …` and `loopdesk report-link` through the real CLI and store."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlmodel import select

from console.cli import main
from console.identity.passwords import verify_password
from console.models.identity import AuditEvent, User, UserPractice
from console.models.practice import PracticeSettings
from console.platform.db import session_scope
from console.platform.errors import NotAuthorised
from console.reporting.report_links import verify_report_link
from tests.console.access_helpers import NOW, cheap_argon2

__all__ = ["cheap_argon2"]


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str


class Cli:
    """Runs `loopdesk` through its real entry point, as a shell would."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self.monkeypatch, self.capsys = monkeypatch, capsys

    def __call__(self, args: list[str], stdin: str = "") -> Result:
        self.monkeypatch.setattr(sys, "argv", ["loopdesk", *args])
        # A StringIO is not a terminal: exactly the "piped" case (empty = nothing piped).
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        self.capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main()
        captured = self.capsys.readouterr()
        code = exit_info.value.code
        return Result(int(code or 0), captured.out, captured.err)


@pytest.fixture
def cli(
    loopdesk_home: Path,
    cheap_argon2: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    return Cli(monkeypatch, capsys)


def _add(cli: Cli, *args: str, stdin: str = "") -> tuple[int, str, str]:
    result = cli(["users", "add", *args], stdin=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_add_with_piped_password(cli: Cli) -> None:
    code, out, _ = _add(
        cli,
        "Ana@Agency.test",
        "--role",
        "coordinator",
        "--practice",
        "alpha",
        "--practice",
        "beta",
        stdin="a-long-enough-password\n",
    )
    assert code == 0
    assert "password" not in out
    with session_scope() as session:
        user = session.exec(select(User)).one()
        assert user.email == "ana@agency.test" and user.role == "coordinator"
        assert verify_password(user.password_hash, "a-long-enough-password")
        slugs = session.exec(select(UserPractice.practice_slug)).all()
        assert sorted(slugs) == ["alpha", "beta"]
        actions = [event.action for event in session.exec(select(AuditEvent)).all()]
        assert actions == ["user_created", "practice_change", "practice_change"]


def test_add_generates_and_prints_a_password_when_nothing_is_piped(cli: Cli) -> None:
    result = cli(["users", "add", "boss@agency.test", "--role", "manager", "--json"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["role"] == "manager" and payload["practices"] == []
    generated = payload["generated_password"]
    assert isinstance(generated, str) and len(generated) >= 16
    with session_scope() as session:
        user = session.exec(select(User)).one()
        assert verify_password(user.password_hash, generated)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x@agency.test", "--role", "wizard"], "unknown role 'wizard'"),
        (["not-an-email", "--role", "manager"], "not an email address"),
        (["x@agency.test", "--role", "manager", "--practice", "Bad Slug"], "not a practice slug"),
    ],
)
def test_bad_input_is_a_one_line_error(cli: Cli, args: list[str], message: str) -> None:
    result = cli(["users", "add", *args], stdin="a-long-enough-password\n")
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_short_piped_password_is_refused(cli: Cli) -> None:
    code, _, err = _add(cli, "x@agency.test", "--role", "manager", stdin="short\n")
    assert code == 2 and "at least 10 characters" in err


def test_duplicate_email_is_a_one_line_error(cli: Cli) -> None:
    assert _add(cli, "x@agency.test", "--role", "manager", stdin="a-long-enough-password\n")[0] == 0
    code, _, err = _add(cli, "X@agency.test", "--role", "admin", stdin="a-long-enough-password\n")
    assert code == 2
    assert err.strip() == "error: a user with that email already exists"


def test_set_practices_and_deactivate(cli: Cli) -> None:
    _add(
        cli,
        "x@agency.test",
        "--role",
        "coordinator",
        "--practice",
        "alpha",
        stdin="long-password-1\n",
    )
    result = cli(["users", "set-practices", "x@agency.test", "--practice", "beta"])
    assert result.exit_code == 0, result.stderr
    result = cli(["users", "set-role", "x@agency.test", "--role", "manager"])
    assert result.exit_code == 0, result.stderr
    result = cli(["users", "deactivate", "x@agency.test"])
    assert result.exit_code == 0, result.stderr
    with session_scope() as session:
        user = session.exec(select(User)).one()
        assert (user.active, user.role) == (False, "manager")
        assert session.exec(select(UserPractice.practice_slug)).all() == ["beta"]
    missing = cli(["users", "deactivate", "nobody@agency.test"])
    assert missing.exit_code == 2 and "no user with that email" in missing.stderr


def _seed_practice(slug: str) -> None:
    with session_scope() as session:
        session.add(
            PracticeSettings(
                practice_slug=slug,
                name="Alpha Implants",
                specialty="implant",
                timezone="America/Chicago",
            )
        )
        session.commit()


def test_report_link_prints_a_working_url(cli: Cli) -> None:
    _seed_practice("alpha")
    result = cli(["report-link", "--practice", "alpha", "--days", "7", "--json"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["url"].startswith("http://127.0.0.1:8501/api/v1/report?token=")
    assert datetime.fromisoformat(payload["expires_at"]) == datetime(2026, 12, 3, 15, tzinfo=UTC)
    token = parse_qs(urlparse(payload["url"]).query)["token"][0]
    with session_scope() as session:
        assert verify_report_link(session=session, token=token, now=NOW).practice_slug == "alpha"


def test_report_link_plain_output(cli: Cli) -> None:
    _seed_practice("alpha")
    result = cli(["report-link", "--practice", "alpha"])
    assert result.exit_code == 0, result.stderr
    url, expiry = result.stdout.strip().splitlines()
    assert "/api/v1/report?token=" in url and expiry.startswith("expires 2026-12-26")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--practice", "nowhere"], "unknown practice 'nowhere'"),
        (["--practice", "alpha", "--days", "0"], "--days must be between 1 and 90"),
        (["--practice", "alpha", "--days", "365"], "--days must be between 1 and 90"),
    ],
)
def test_report_link_errors(cli: Cli, args: list[str], message: str) -> None:
    _seed_practice("alpha")
    result = cli(["report-link", *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_revoke_link_stops_a_report_link_at_once(cli: Cli) -> None:
    _seed_practice("alpha")
    payload = json.loads(cli(["report-link", "--practice", "alpha", "--json"]).stdout)
    token = parse_qs(urlparse(payload["url"]).query)["token"][0]

    revoked = cli(["revoke-link", payload["link_id"]])

    assert revoked.exit_code == 0, revoked.stderr
    with session_scope() as session, pytest.raises(NotAuthorised):
        verify_report_link(session=session, token=token, now=NOW)
    unknown = cli(["revoke-link", "no-such-link"])
    assert unknown.exit_code == 2 and "no report link with that id" in unknown.stderr
