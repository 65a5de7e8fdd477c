"""Message templates: per-practice overrides, the share blurb, and capped loop-closure outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.models.outreach import OutreachSettings
from console.templates import outcome_phrase, render_ask, render_loop_close
from tests.console.outreach_support import session_on
from tests.factories import add_practice, sqlite_engine


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
