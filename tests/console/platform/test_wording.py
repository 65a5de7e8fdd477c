"""Durations, outcomes and phone numbers read naturally (never "0 h ago" or a raw slug)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from console.platform.wording import (
    ago,
    countdown_text,
    kind_label,
    outcome_label,
    outcome_sentence,
    phone_display,
    tel_link,
)


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(seconds=20), "just now"),
    (timedelta(minutes=25), "25 min ago"),
    (timedelta(hours=3, minutes=10), "3 h ago"),
    (timedelta(days=4), "4 days ago"),
])
def test_ago(delta: timedelta, text: str) -> None:
    assert ago(delta) == text


@pytest.mark.parametrize(("left", "text"), [
    (timedelta(hours=4), "in 4 h"),
    (timedelta(seconds=30), "due now"),
    (timedelta(seconds=-20), "breached just now"),
    (timedelta(minutes=-40), "breached 40 min ago"),
    (timedelta(days=-3), "breached 3 days ago"),
])
def test_countdown_never_says_zero_hours(left: timedelta, text: str) -> None:
    assert countdown_text(left) == text


def test_outcomes_read_as_sentences() -> None:
    assert outcome_sentence("lead_booked", "Dana") == "Dana booked a consultation"
    assert outcome_sentence("voicemail", "Dana") == "Left Dana a voicemail"
    assert outcome_label("callback_requested") == "Asked to be called back"
    assert outcome_label(None) == "—" and outcome_sentence(None, "Dana") == "—"
    assert kind_label("contact_lead") == "Contact a referred lead"
    assert kind_label("new_kind") == "New kind"


def test_phone_numbers_for_reading_and_dialling() -> None:
    assert phone_display("+13125550142") == "(312) 555-0142"
    assert phone_display("+442079460958") == "+44 20 7946 0958"
    assert tel_link("+13125550142") == "tel:+13125550142"
    assert phone_display(None) is None and tel_link("") is None
