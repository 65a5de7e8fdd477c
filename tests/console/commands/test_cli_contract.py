"""The CLI contract of ARCHITECTURE.md, end to end over a tiny hand-written export.

The export is deliberately not from our generator: other ids, a practice in Pacific/Honolulu,
dates without times, offsets, extra and missing optional columns, a renamed column, CRLF line
ends, a BOM and quoted commas — what another agency's files look like.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from console.cli import app, main
from tests.console.access_helpers import cheap_argon2

__all__ = ["cheap_argon2"]

# Tuesday 2026-11-24, 10:00 in Honolulu and 14:00 in Chicago: inside calling hours for both.
NOW = "2026-11-24T20:00:00+00:00"
PASSWORD = "a-long-enough-password"
COORDINATOR = "kai@agency.test"
COUNT_KEYS = {"rows_in", "inserted", "updated", "unchanged", "quarantined"}
QUEUE_KEYS = {"task_id", "kind", "practice_slug", "priority", "why", "due_at", "sla_deadline",
              "callable_now", "gate_reason", "status", "escalated"}
CLAIM_KEYS = {"task_id", "kind", "practice_slug", "subject_type", "patient_id", "lead_id",
              "treatment_id", "attempt", "due_at", "sla_deadline", "status", "claim_version",
              "lease_expires_at"}
LOG_KEYS = {"task_id", "disposition", "touch_id", "task_status", "next_task_id", "lead_id",
            "cancelled_tasks", "thank_you_message_id"}
METRIC_KEYS = {"ask_rate", "reach_rate", "willingness_rate", "referral_rate",
               "intent_action_gap_pts", "lead_contact_sla_rate", "lead_conversion_rate",
               "loop_closure_rate", "referred_revenue", "repeat_referral_rate", "sla_compliance",
               "hours_delivered"}

BOM = "\ufeff"
PRACTICES = (
    BOM + "practice_slug,name,specialty,timezone,contracted_hours_per_week,account_manager\r\n"
    'aloha-smiles,"Aloha Smiles, Dental",cosmetic_dentistry,Pacific/Honolulu,12,"Lee, Ann"\r\n'
    "lakeview-skin,Lakeview Skin,med_spa,America/Chicago,8,\r\n"
    "kona-laser,Kona Laser,lasik,Pacific/Honolulu,6,\r\n"
)
ALOHA_PATIENTS = (
    "patient_id,first_name,last_name,phone,email,consent_call,consent_text,consent_email,"
    "do_not_contact,satisfaction_score,updated_at,favourite_colour\r\n"
    'H-1,"Kai, Jr.",Akana,(808) 555-0101,KAI@Example.com,Y,Y,N,N,7,2026-10-01,"red, blue"\r\n'
    "H-2,Lei,Mahoe,+1 808 555 0102,,yes,no,yes,no,,2026-10-02T08:30:00-10:00,\r\n"
    "H-3,Noa,Kahale,808-555-0103,noa@example.com,1,1,1,0,5,2026-10-03 09:00,\r\n"
    "H-4,Bad,Phone,12345,,true,true,true,false,,,\r\n"
)
ALOHA_TREATMENTS = (
    "treatment_id,patient_id,treatment_code,category,description,value,completed_at,"
    "results_visible_at\r\n"
    'T-1,H-1,VEN8,cosmetic_dental,"Veneers, upper 8",18000,2026-10-20,\r\n'
    "T-2,H-2,WH1,whitening,In-office whitening,650.50,2026-11-01T10:00:00Z,2026-11-03\r\n"
    "T-3,H-3,VEN2,cosmetic_dental,Two veneers,4000,2026-09-15T09:00:00+05:30,\r\n"
    "T-4,H-9,VEN2,cosmetic_dental,nobody,4000,2026-09-15,\r\n"
)
# LF line ends here, UTC and offset timestamps, a lead without a referrer.
LAKEVIEW_PATIENTS = (
    "patient_id,first_name,last_name,phone,email,consent_call,consent_text,consent_email,"
    "do_not_contact,satisfaction_score,updated_at\n"
    "C-1,Ann,Lee,312-555-0144,ann@example.com,true,true,true,false,10,2026-06-01\n"
)
LAKEVIEW_TREATMENTS = (
    "treatment_id,patient_id,treatment_code,category,description,value,completed_at,"
    "results_visible_at\n"
    "CT-1,C-1,BTX,injectable,,900,2026-05-01 10:00,2026-05-15T10:00:00-05:00\n"
)
LAKEVIEW_REFERRALS = (
    "lead_id,referrer_patient_id,lead_first_name,lead_last_name,lead_phone,lead_email,"
    "referred_at,status,status_at,booked_value,became_patient_id\n"
    "CL-1,C-1,Bo,Ng,3125550155,,2026-06-10T12:00:00Z,booked,2026-06-20,2500,\n"
    "CL-2,,Cy,,,cy@example.com,2026-11-24T08:00:00-06:00,new,,,\n"
)
# A renamed column (consent_sms for consent_text) pauses this practice.
KONA_PATIENTS = (
    "patient_id,first_name,last_name,phone,email,consent_call,consent_sms,consent_email,"
    "do_not_contact,satisfaction_score,updated_at\n"
    "K-1,Ka,Po,8085550120,,true,true,true,false,9,2026-10-01\n"
)


def _write_drop(root: Path) -> Path:
    """The drop folder, written byte for byte (newline='' keeps the CRLFs)."""
    files = {
        "practices.csv": PRACTICES,
        "aloha-smiles/patients.csv": ALOHA_PATIENTS,
        "aloha-smiles/treatments.csv": ALOHA_TREATMENTS,
        "lakeview-skin/patients.csv": LAKEVIEW_PATIENTS,
        "lakeview-skin/treatments.csv": LAKEVIEW_TREATMENTS,
        "lakeview-skin/referrals.csv": LAKEVIEW_REFERRALS,
        "kona-laser/patients.csv": KONA_PATIENTS,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    return root


def _adds_up(counts: dict[str, Any]) -> bool:
    return bool(counts["rows_in"] == counts["inserted"] + counts["updated"]
                + counts["unchanged"] + counts["quarantined"])


@pytest.fixture
def drop(loopdesk_home: Path, cheap_argon2: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOOPDESK_NOW", NOW)
    return _write_drop(loopdesk_home.parent / "drop")


runner = CliRunner()


def _json(*args: str, stdin: str | None = None) -> Any:
    """Run one command through typer's runner; it must succeed and print one JSON document."""
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return json.loads(result.stdout)


def _ingest_checks(summary: dict[str, Any]) -> None:
    assert COUNT_KEYS | {"run_id", "practices", "files"} <= set(summary)
    assert _adds_up(summary)
    for slug, counts in summary["practices"].items():
        assert COUNT_KEYS | {"status", "message"} <= set(counts), slug
        assert _adds_up(counts), slug
    for file in summary["files"]:
        assert _adds_up(file), file


def test_the_contract_end_to_end(drop: Path) -> None:
    first = _json("ingest", str(drop), "--json")
    _ingest_checks(first)
    practices = first["practices"]
    # BOM, CRLF, quoted commas, an extra column and no onboarded_at column: it all loads.
    agency_file = next(f for f in first["files"] if f["file"] == "practices.csv")
    assert agency_file["status"] == "ok" and agency_file["inserted"] == 3
    assert "account_manager" in agency_file["message"]
    aloha = practices["aloha-smiles"]
    assert (aloha["status"], aloha["rows_in"], aloha["quarantined"]) == ("ok", 8, 2)
    assert "favourite_colour" in aloha["message"]
    assert practices["lakeview-skin"]["inserted"] == 4
    kona = practices["kona-laser"]
    assert kona["status"] == "paused" and kona["rows_in"] == 0 and "consent_text" in kona["message"]

    again = _json("ingest", str(drop), "--practice", "aloha-smiles", "--json")
    _ingest_checks(again)
    assert set(again["practices"]) == {"aloha-smiles"}
    assert again["practices"]["aloha-smiles"]["unchanged"] == 6 and again["inserted"] == 0

    built = _json("build", "--json")
    assert {"tasks_created", "tasks_closed", "tasks_open"} <= set(built)
    assert built["tasks_created"] == built["tasks_open"] > 0

    user = _json("users", "add", COORDINATOR, "--role", "coordinator",
                 "--practice", "aloha-smiles", "--json", stdin=PASSWORD + "\n")
    assert user["practices"] == ["aloha-smiles"] and user["generated_password"] is None

    queue = _json("queue", "--as", COORDINATOR, "--json")
    assert queue and all(set(entry) == QUEUE_KEYS for entry in queue)
    assert {entry["practice_slug"] for entry in queue} == {"aloha-smiles"}
    assert {entry["kind"] for entry in queue} == {"ask"}

    asked = _json("claim", "--as", COORDINATOR, "--json")
    assert set(asked) == CLAIM_KEYS and asked["status"] == "claimed"
    assert asked["task_id"] == queue[0]["task_id"]
    referred = _json("log", str(asked["task_id"]), "--as", COORDINATOR, "--disposition",
                     "referred", "--minutes", "6", "--lead-first-name", "Robin",
                     "--lead-phone", "(808) 555-0142", "--json")
    assert set(referred) == LOG_KEYS and referred["task_status"] == "done"
    assert referred["lead_id"] and referred["next_task_id"]

    second = _json("claim", "--as", COORDINATOR, "--json")
    callback = _json("log", str(second["task_id"]), "--as", COORDINATOR, "--disposition",
                     "callback_requested", "--callback-at", "2026-11-25T09:30", "--json")
    assert callback["next_task_id"] or callback["task_status"] == "open"

    _json("build", "--json")  # operational events flow back into the warehouse
    metrics = _json("metrics", "--practice", "aloha-smiles", "--from", "2026-09-01",
                    "--to", "2026-11-24", "--json")
    assert {"as_of", "period", "practices", "agency"} <= set(metrics)
    assert metrics["period"] == {"from": "2026-09-01", "to": "2026-11-24"}
    [row] = metrics["practices"]
    assert row["practice_slug"] == "aloha-smiles" and set(row) >= METRIC_KEYS
    assert row["counts"]["asked"] >= 1 and row["hours_delivered"] > 0

    forecast = _json("forecast", "--patients-per-year", "100", "--referral-rate", "0.4",
                     "--years", "2", "--json")
    assert forecast["by_year"] == pytest.approx([40, 56]) and forecast["total"] == 96
    flat = _json("forecast", "--patients-per-year", "100", "--referral-rate", "0.1",
                 "--years", "2", "--no-compounding", "--json")
    assert flat["total"] == pytest.approx(20)

    link = _json("report-link", "--practice", "aloha-smiles", "--days", "7", "--json")
    assert {"practice_slug", "url", "link_id", "expires_at"} <= set(link)
    assert "/api/v1/report?token=" in link["url"]
    assert link["expires_at"].startswith("2026-12-01T20:00")


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          *args: str) -> tuple[int, str]:
    """Run the real entry point (the one the installed `loopdesk` runs); exit code, stderr."""
    monkeypatch.setattr(sys, "argv", ["loopdesk", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main()
    return int(exit_info.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["queue", "--as", "nobody@agency.test"], "no active user"),
        (["metrics", "--json"], "no warehouse snapshot"),
        (["metrics", "--from", "2026-02-30"], "--from"),
        (["ingest", "no-such-folder"], "no such folder"),
        (["report-link", "--practice", "nope"], "unknown practice"),
        (["queue", "--as", COORDINATOR, "--limit", "zero"], "--limit"),
        (["forecast", "--referral-rate", "0.4", "--years", "2"], "--patients-per-year"),
        (["forecast", "--patients-per-year", "1e308", "--referral-rate", "1", "--years", "3"],
         "overflows"),
        (["no-such-command"], "no-such-command"),
    ],
)
def test_user_mistakes_are_one_line(
    drop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    args: list[str], says: str,
) -> None:
    code, err = _main(monkeypatch, capsys, *args)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and says in err


def test_log_mistakes_after_a_build(
    drop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """Unknown disposition, a task not held, unknown practice: one line each, exit 2."""
    _json("ingest", str(drop), "--json")
    _json("build", "--json")
    _json("users", "add", COORDINATOR, "--role", "coordinator", "--practice", "aloha-smiles",
          "--json", stdin=PASSWORD + "\n")
    held = _json("claim", "--as", COORDINATOR, "--json")
    other = _json("queue", "--as", COORDINATOR, "--json")[0]["task_id"]
    assert other != held["task_id"]
    for args, says in [
        (["log", str(held["task_id"]), "--as", COORDINATOR, "--disposition", "maybe"],
         "unknown disposition"),
        (["log", str(other), "--as", COORDINATOR, "--disposition", "voicemail"], "not held"),
        (["log", str(held["task_id"]), "--as", COORDINATOR, "--disposition",
          "callback_requested", "--callback-at", "tomorrow"], "--callback-at"),
        (["metrics", "--practice", "nope"], "unknown practice"),
        (["inbound", "--channel", "fax", "--from", "x", "--text", "stop"], "--channel"),
    ]:
        code, err = _main(monkeypatch, capsys, *args)
        assert (code, err.count("\n")) == (2, 1), (args, err)
        assert says in err, (args, err)


def test_installed_command_prints_one_line_without_a_traceback(loopdesk_home: Path) -> None:
    """A bad option value through the real `loopdesk` script: one stderr line, exit 2."""
    script = Path(sys.executable).with_name("loopdesk")
    env = {**os.environ, "LOOPDESK_NOW": "2026-11-24T20:00:00"}  # no offset: read as UTC
    result = subprocess.run(
        [str(script), "forecast", "--patients-per-year", "100", "--referral-rate", "lots",
         "--years", "2"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--referral-rate" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
