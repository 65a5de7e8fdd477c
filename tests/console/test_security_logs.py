"""SECURITY 19: logs never contain patient names, phones or emails.

The whole data path runs with every logger at DEBUG — generate, ingest, build, a claim, a
`referred` disposition with a new lead, the report over HTTP (good and bad tokens) and the
access log — and no name, phone or email of the data may appear in any log record or on
stderr. The audit log is held to the same rule (it names objects by id only).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from console.models.identity import AuditEvent, Role, User, UserPractice
from console.platform.db import get_engine, init_db, new_session
from console.reporting.report_links import create_report_link
from console.work.claims import claim_next
from console.work.dispositions import log_disposition
from console.work.leads import LeadInput
from tests.factories import acting

NOW = datetime.fromisoformat("2026-11-26T18:00:00+00:00")
LEAD = LeadInput(first_name="Zebulon", last_name="Quixotic", phone="(312) 555-0147",
                 email="zebulon.quixotic@example.test")


def _phi(drop: Path) -> set[str]:
    """Every name, phone (as written and as digits) and email in the drop, plus the new lead."""
    values: set[str] = {LEAD.first_name, LEAD.last_name, "+13125550147", "3125550147",
                        str(LEAD.phone), str(LEAD.email)}
    for folder in (p for p in drop.iterdir() if p.is_dir()):
        people = pl.read_csv(folder / "patients.csv", infer_schema=False)
        leads = pl.read_csv(folder / "referrals.csv", infer_schema=False)
        names = pl.concat([people["first_name"], people["last_name"],
                           leads["lead_first_name"], leads["lead_last_name"]])
        emails = pl.concat([people["email"], leads["lead_email"]])
        phones = pl.concat([people["phone"], leads["lead_phone"]])
        # Short names ("Al", "Li") would match ordinary words; 4+ letters identify a person.
        values |= {v.strip() for v in names.drop_nulls().to_list()
                   if len(v.strip()) >= 4 and v.strip().isalpha()}
        values |= {v.strip() for v in emails.drop_nulls().to_list() if "@" in v}
        for phone in phones.drop_nulls().to_list():
            if len(digits := re.sub(r"\D", "", phone)) >= 10:
                values |= {phone.strip(), digits[-10:]}
    return values


def _leaks(text: str, phi: set[str]) -> list[str]:
    return sorted(value for value in phi if re.search(rf"\b{re.escape(value)}\b", text))


def test_the_whole_flow_logs_no_phi(
    loopdesk_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
) -> None:
    from console.lifecycle.build import build_everything
    from console.web.app import ACCESS_LOGGER, install_log_redaction
    from console.web.http import build_routes
    from pipelines.generate import generate_exports
    from pipelines.ingest import ingest

    monkeypatch.setenv("LOOPDESK_NOW", NOW.isoformat())
    caplog.set_level(logging.DEBUG)
    for name in ("", "uvicorn", "uvicorn.error", ACCESS_LOGGER):
        caplog.set_level(logging.DEBUG, logger=name)
    # SQL echo as an operator would switch it on; its DEBUG level also dumps result rows.
    caplog.set_level(logging.INFO, logger="sqlalchemy")
    drop = tmp_path / "drop"
    generate_exports(drop, practices=2, seed=5, months=2, now=NOW, dirty_share=0.05)
    ingest(drop)
    build_everything()

    engine = get_engine()
    init_db(engine)
    with new_session(engine) as session:
        slugs = sorted(p.name for p in drop.iterdir() if p.is_dir())
        user = User(email="coord@agency.test", role=Role.coordinator.value,
                    password_hash="unused", active=True, created_at=NOW)
        session.add(user)
        session.flush()
        session.add_all([UserPractice(user_id=user.user_id or 0, practice_slug=s) for s in slugs])
        session.commit()
        coordinator = acting(session, user)
        task = None
        while task is None or task.subject_type != "patient" or task.kind != "ask":
            task = claim_next(session=session, user=coordinator, now=NOW)
            assert task is not None, "the generated world has an ask to claim"
        log_disposition(session=session, user=coordinator, task_id=task.task_id or 0,
                        claim_version=task.claim_version, disposition="referred", minutes=4,
                        notes="", callback_at=None, lead=LEAD, now=NOW)
        link = create_report_link(session=session, practice_slug=task.practice_slug, days=7,
                                  actor="cli", now=NOW)
        install_log_redaction()
        with TestClient(Starlette(routes=build_routes())) as client:
            assert client.get(f"/api/v1/report?token={link.token}").status_code == 200
            assert client.get("/api/v1/report?token=bad").status_code == 401
        # The access logger as uvicorn would write it, with the token in the query string.
        logging.getLogger(ACCESS_LOGGER).info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET",
            f"/api/v1/report?token={link.token}", "1.1", 200)
        audit_text = "\n".join(
            " ".join(str(v) for v in (e.actor, e.action, e.practice_slug, e.object_ref))
            for e in session.exec(select(AuditEvent)).all())

    phi = _phi(drop)
    assert len(phi) > 50, "fixture: the data holds names, phones and emails"
    # httpx is the test's own client (its request lines carry the URL it was given).
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in server)
    assert any(r.name == ACCESS_LOGGER for r in server), "fixture: logging was captured"
    assert _leaks(logged, phi) == []
    assert link.token not in logged
    assert _leaks(capfd.readouterr().err, phi) == []
    assert "view_report" in audit_text and "disposition" in audit_text
    assert _leaks(audit_text, phi) == []


def test_the_leak_finder_finds_a_leak() -> None:
    """The check above can fail: a record with a patient's name or phone is reported."""
    phi = {"Willie", "Jimenez", "(602) 514-3450", "6025143450"}
    assert _leaks("claimed task 4 for Willie Jimenez", phi) == ["Jimenez", "Willie"]
    assert _leaks("sms to 6025143450 queued", phi) == ["6025143450"]
    assert _leaks("task 4 claimed (practice desert-bloom)", phi) == []
