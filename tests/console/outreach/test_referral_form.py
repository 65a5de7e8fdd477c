"""The public referral form: valid code → lead + task; bad codes 4xx; rate limit; escaping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from console.identity.tokens import TokenKind, issue_token
from console.messaging.referral_links import _mac, code_text, referral_code_for, referral_url
from console.models.outreach import ReferralCode, ReferralSubmission
from console.models.work import Lead, Task
from console.outreach.referral_form import FormServices, referral_routes
from tests.console.outreach_support import session_on
from tests.factories import NOW, add_practice, sqlite_engine

FRIEND = {"first_name": "Dana", "last_name": "Friend", "phone": "(212) 555-0177",
          "email": "", "consent": "yes"}


@contextmanager
def _client(engine: Engine, now_offset: timedelta = timedelta(0),
            matcher: object = None) -> Iterator[TestClient]:
    @contextmanager
    def sessions() -> Iterator[Session]:
        with session_on(engine) as session:
            yield session

    services = FormServices(sessions=sessions, now=lambda: NOW + now_offset,
                            patient_matcher=matcher)  # type: ignore[arg-type]
    with TestClient(Starlette(routes=referral_routes(services))) as client:
        yield client


@pytest.fixture
def world(loopdesk_home: Path) -> tuple[Engine, str]:
    engine = sqlite_engine(loopdesk_home)
    session = session_on(engine)
    add_practice(session)
    add_practice(session, "glow-az", timezone="America/Phoenix")
    code = referral_code_for(session=session, practice_slug="smile-ny", patient_id="p-ref",
                             now=NOW)
    return engine, code_text(code)


def test_form_shows_only_the_practice_and_works_without_javascript(
    world: tuple[Engine, str],
) -> None:
    engine, code = world
    with _client(engine) as client:
        page = client.get(f"/r/{code}")
    assert page.status_code == 200
    assert "Smile-Ny" in page.text and 'name="viewport"' in page.text
    assert "<script" not in page.text and "p-ref" not in page.text
    assert page.headers["cache-control"] == "no-store"


def test_valid_submission_creates_one_link_lead_and_one_contact_task(
    world: tuple[Engine, str],
) -> None:
    engine, code = world
    with _client(engine) as client:
        response = client.post(f"/r/{code}", data=FRIEND)
    assert response.status_code == 200 and "Thank you" in response.text
    session = session_on(engine)
    [lead] = session.exec(select(Lead)).all()
    assert (lead.source, lead.referrer_patient_id, lead.practice_slug) == (
        "link", "p-ref", "smile-ny")
    assert lead.phone == "+12125550177"
    [task] = session.exec(select(Task)).all()
    assert (task.kind, task.lead_id, task.status) == ("contact_lead", lead.lead_id, "open")
    assert task.sla_deadline <= NOW + timedelta(days=4)


def _variants(engine: Engine, code: str) -> dict[str, str]:
    session = session_on(engine)
    code_id, mac = code.split(".")
    row = session.get(ReferralCode, code_id)
    assert row is not None
    moved = ReferralCode(code_id=code_id, practice_slug="glow-az", patient_id=row.patient_id,
                         created_at=row.created_at, expires_at=row.expires_at)
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]
    report = issue_token(kind=TokenKind.report, subject="smile-ny", now=NOW,
                         lifetime=timedelta(days=1))
    return {
        "forged": "Z" * 22 + "." + "Z" * 22,
        "edited": f"{code_id}.{flipped}",
        "edited_id": ("y" if code_id.startswith("x") else "x") + code_id[1:] + "." + mac,
        "other_practice": f"{code_id}.{_mac(moved)}",
        "report_token": report,
        "garbage": "not-a-code",
    }


@pytest.mark.parametrize("variant", ["forged", "edited", "edited_id", "other_practice",
                                     "report_token", "garbage"])
def test_bad_codes_get_a_plain_4xx_and_create_nothing(
    world: tuple[Engine, str], variant: str
) -> None:
    engine, code = world
    bad = _variants(engine, code)[variant]
    with _client(engine) as client:
        shown = client.get(f"/r/{bad}")
        posted = client.post(f"/r/{bad}", data=FRIEND)
    assert shown.status_code == 404 and posted.status_code == 404
    assert "Smile" not in shown.text
    assert session_on(engine).exec(select(Lead)).all() == []


def test_expired_code_is_refused(world: tuple[Engine, str]) -> None:
    engine, code = world
    with _client(engine, now_offset=timedelta(days=366)) as client:
        assert client.post(f"/r/{code}", data=FRIEND).status_code == 404
    assert session_on(engine).exec(select(Lead)).all() == []


def test_thirty_rapid_posts_are_throttled(world: tuple[Engine, str]) -> None:
    engine, code = world
    with _client(engine) as client:
        statuses = [client.post(f"/r/{code}", data=FRIEND).status_code for _ in range(30)]
    assert statuses[0] == 200 and statuses[-1] == 429
    assert statuses.count(429) >= 10
    # The same friend posted repeatedly is one lead plus recorded duplicates, one task.
    assert len(session_on(engine).exec(select(Task)).all()) == 1


def test_html_in_names_is_stored_as_text_and_shown_escaped(world: tuple[Engine, str]) -> None:
    engine, code = world
    evil = "<img src=x onerror=alert(1)>"
    with _client(engine) as client:
        missing_consent = client.post(f"/r/{code}", data=FRIEND | {"first_name": evil,
                                                                   "consent": ""})
        accepted = client.post(f"/r/{code}", data=FRIEND | {"first_name": evil})
    assert missing_consent.status_code == 400
    assert evil not in missing_consent.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in missing_consent.text
    assert accepted.status_code == 200
    [lead] = session_on(engine).exec(select(Lead)).all()
    assert lead.first_name == evil


def test_missing_contact_details_are_a_400_with_the_form_again(world: tuple[Engine, str]) -> None:
    engine, code = world
    with _client(engine) as client:
        response = client.post(f"/r/{code}", data=FRIEND | {"phone": "", "email": ""})
    assert response.status_code == 400 and "phone or an email" in response.text
    assert session_on(engine).exec(select(Lead)).all() == []


def test_same_friend_referred_twice_keeps_the_first_referrer(world: tuple[Engine, str]) -> None:
    engine, code = world
    session = session_on(engine)
    second = code_text(referral_code_for(session=session, practice_slug="smile-ny",
                                         patient_id="p-other", now=NOW))
    with _client(engine) as client:
        client.post(f"/r/{code}", data=FRIEND)
        client.post(f"/r/{second}", data=FRIEND | {"phone": "", "email": ""} | {
            "phone": "212-555-0177"})
    leads = session_on(engine).exec(select(Lead)).all()
    first_lead = next(lead for lead in leads if lead.duplicate_of_lead_id is None)
    duplicate = next(lead for lead in leads if lead.duplicate_of_lead_id is not None)
    assert first_lead.referrer_patient_id == "p-ref"
    assert (duplicate.referrer_patient_id, duplicate.duplicate_of_lead_id) == (
        "p-other", first_lead.lead_id)
    assert len(session_on(engine).exec(select(Task)).all()) == 1
    flags = session_on(engine).exec(select(ReferralSubmission.duplicate)).all()
    assert sorted(flags) == [False, True]


def test_friend_who_is_already_a_patient_is_flagged_not_double_counted(
    world: tuple[Engine, str],
) -> None:
    engine, code = world

    def matcher(practice: str, phone: str | None, email: str | None) -> str | None:
        return "p-existing" if (practice, phone) == ("smile-ny", "+12125550177") else None

    with _client(engine, matcher=matcher) as client:
        assert client.post(f"/r/{code}", data=FRIEND).status_code == 200
    session = session_on(engine)
    [lead] = session.exec(select(Lead)).all()
    assert lead.matched_patient_id == "p-existing"
    [task] = session.exec(select(Task)).all()
    assert (task.status, task.close_reason) == ("cancelled", "existing_patient")


def test_referral_url_uses_the_public_base_url(world: tuple[Engine, str]) -> None:
    engine, code = world
    row = session_on(engine).get(ReferralCode, code.split(".")[0])
    assert row is not None
    assert referral_url(row) == f"http://127.0.0.1:8501/r/{code}"
