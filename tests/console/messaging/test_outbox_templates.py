"""Message templates: per-practice overrides, the share blurb, and capped loop-closure outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from console.messaging.templates import (
    AskTemplates,
    ask_template_problems,
    outcome_phrase,
    render_ask,
    render_loop_close,
    save_ask_templates,
)
from console.models.identity import AuditEvent
from console.models.outreach import OutreachSettings
from console.platform.errors import UserError
from tests.console.outreach_support import session_on
from tests.factories import NOW, add_practice, sqlite_engine


@pytest.mark.parametrize(("status", "detail", "expected"), [
    ("booked", "booked", "booked a consultation"),
    ("treated", "booked", "booked a consultation"),
    ("treated", "treatment", "started treatment"),
    ("treated", "none", "been in touch"),
    ("declined", "treatment", "been in touch"),
    ("booked", "anything-else", "been in touch"),
])
def test_outcome_is_never_more_than_the_practice_allows(status: str, detail: str,
                                                        expected: str) -> None:
    assert expected in outcome_phrase(lead_status=status, outcome_detail=detail)


def test_practice_template_and_share_blurb_are_used(loopdesk_home: Path) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    practice = add_practice(session, share_blurb="Gentle implants in Midtown.")
    session.add(OutreachSettings(practice_slug="smile-ny", ask_sms_body="$first_name: $link",
                                 outcome_detail="treatment"))
    session.commit()
    email = render_ask(session=session, practice=practice, channel="email", first_name="Ann",
                       link="https://x/r/c")
    sms = render_ask(session=session, practice=practice, channel="sms", first_name="Ann",
                     link="https://x/r/c")
    thanks = render_loop_close(session=session, practice=practice, channel="sms",
                               first_name="Ann", lead_status="treated")
    assert "Gentle implants in Midtown." in email.body and "https://x/r/c" in email.body
    # A stored template from before the STOP rule still tells the patient how to opt out.
    assert sms.body == "Ann: https://x/r/c Reply STOP to opt out."
    assert "started treatment" in thanks.body and "implant" not in thanks.body.lower()


def test_html_part_is_autoescaped_and_subject_is_one_line(loopdesk_home: Path) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    practice = add_practice(session, share_blurb="<script>alert(1)</script>")
    session.add(OutreachSettings(practice_slug="smile-ny",
                                 ask_email_subject="Hello $first_name"))
    session.commit()
    email = render_ask(session=session, practice=practice, channel="email",
                       first_name="<img src=x onerror=alert(1)>\nBcc: all@x.test",
                       link='https://x/r/c"onmouseover="x', unsubscribe_url="https://x/u/t")
    assert "<img" not in email.html and "&lt;img src=x onerror=alert(1)&gt;" in email.html
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert 'href="https://x/r/c&quot;onmouseover=&quot;x"' in email.html
    assert "\n" not in email.subject and email.subject.startswith("Hello <img")
    assert "Unsubscribe: https://x/u/t" in email.body


def test_a_stored_template_without_the_unsubscribe_link_still_gets_it(
    loopdesk_home: Path,
) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    practice = add_practice(session)
    session.add(OutreachSettings(practice_slug="smile-ny", ask_email_body="Hi $first_name: $link",
                                 ask_email_html="<p>Hi <a href=\"$link\">here</a></p>"))
    session.commit()
    email = render_ask(session=session, practice=practice, channel="email", first_name="Ann",
                       link="https://x/r/c", unsubscribe_url="https://x/u/t")
    assert email.body.endswith("Unsubscribe: https://x/u/t")
    assert '<a href="https://x/u/t">Unsubscribe</a>' in email.html


@pytest.mark.parametrize(("templates", "problem"), [
    (AskTemplates(email_text="Hi $first_name, $unsubscribe_url"), "email text must include $link"),
    (AskTemplates(email_text="Hi $link"), "email text must include $unsubscribe_url"),
    (AskTemplates(email_html="<p><a href=\"$link\">x</a></p>"),
     "email HTML must include $unsubscribe_url"),
    (AskTemplates(sms_text="Hi $first_name $link"), "reply STOP"),
    (AskTemplates(sms_text="Hi STOP"), "text message must include $link"),
    (AskTemplates(email_subject="Hi $frist_name"), "$frist_name, which is not a placeholder"),
    (AskTemplates(email_html="<p>$link $unsubscribe_url<img src=x></p>"), "may not use <img>"),
    (AskTemplates(email_html="<p><a href=\"javascript:alert(1)\">$link</a> $unsubscribe_url</p>"),
     "a link may only point to"),
    (AskTemplates(email_html="<p style=\"x\">$link $unsubscribe_url</p>"), "attribute 'style'"),
])
def test_a_template_that_would_drop_a_link_or_run_code_is_refused(
    loopdesk_home: Path, templates: AskTemplates, problem: str,
) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    add_practice(session)
    assert ask_template_problems(AskTemplates()) == []
    with pytest.raises(UserError) as refused:
        save_ask_templates(session=session, practice_slug="smile-ny", templates=templates,
                           actor="user:1", now=NOW)
    assert problem in str(refused.value)
    assert session.get(OutreachSettings, "smile-ny") is None


def test_valid_templates_are_saved_and_audited(loopdesk_home: Path) -> None:
    session = session_on(sqlite_engine(loopdesk_home))
    add_practice(session)
    save_ask_templates(session=session, practice_slug="smile-ny", actor="user:1", now=NOW,
                       templates=AskTemplates(sms_text="$practice_name $link STOP to opt out"))
    stored = session.get(OutreachSettings, "smile-ny")
    assert stored is not None and stored.ask_sms_body == "$practice_name $link STOP to opt out"
    assert stored.ask_email_body is None  # empty keeps the default
    [event] = session.exec(select(AuditEvent)).all()
    assert (event.action, event.object_ref) == ("practice_settings", "templates:smile-ny")
