"""The automated ask end to end on generated data, through the CLI and a real SMTP server."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from console.lifecycle.build import build_everything
from pipelines.generate import generate_exports
from pipelines.ingest import ingest
from tests.console.outreach_support import smtp_server
from warehouse.snapshot import reading_snapshot

# Mid-day in every US zone, so quiet hours hold nothing back.
MIDDAY = "2026-11-26T19:00:00+00:00"


def _expected_email_asks() -> Counter[str]:
    """One ask per eligible, email-consenting patient, computed from the snapshot alone."""
    with reading_snapshot() as snapshot:
        rows = snapshot.sql(
            """
            select lower(p.email)
            from mart_ask_candidates c
            join mart_patients p using (practice_slug, patient_id)
            where c.consent_email and p.email is not null and not p.do_not_contact
            """
        ).fetchall()
    return Counter(row[0] for row in rows)


def test_automate_sends_exactly_one_ask_per_eligible_email_patient_then_nothing(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generate → ingest → build; `automate` twice: every eligible patient once, then nothing."""
    monkeypatch.setenv("LOOPDESK_NOW", MIDDAY)
    exports = loopdesk_home / "exports"
    generate_exports(
        exports, practices=3, seed=11, months=6, now=datetime.fromisoformat(MIDDAY)
    )
    ingest(exports)
    build_everything()
    expected = _expected_email_asks()
    assert expected, "the generated world should hold email-consenting ask candidates"

    runner = CliRunner()
    with smtp_server() as (mailbox, port):
        monkeypatch.setenv("LOOPDESK_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("LOOPDESK_SMTP_PORT", str(port))
        first = runner.invoke(app, ["automate", "--json"])
        assert first.exit_code == 0, first.output
        sent_first = Counter(address.lower() for address in mailbox.recipients())
        second = runner.invoke(app, ["automate", "--json"])
        assert second.exit_code == 0, second.output

    assert sent_first == expected
    assert all(count == 1 for count in sent_first.values())
    assert json.loads(first.stdout)["failed"] == 0
    assert json.loads(second.stdout)["sent"] == 0
    assert Counter(address.lower() for address in mailbox.recipients()) == expected
