"""Per-practice message templates: the ask (with the referral link) and the loop-closure thank-you.

Templates use `$name` placeholders (string.Template) so a manager's edit can never run code;
unknown placeholders are left as written. The practice's `share_blurb` is the short shareable
description a patient can forward to a friend.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

from sqlmodel import Session

from console.models.outreach import OutreachSettings
from console.models.practice import PracticeSettings

DEFAULT_ASK_EMAIL_SUBJECT = "A small favour from $practice_name"
DEFAULT_ASK_EMAIL_BODY = (
    "Hi $first_name,\n\n"
    "We hope you are enjoying your results. If you know someone who could benefit too, "
    "you can introduce them to us in a few seconds here:\n\n$link\n\n"
    "$share_blurb\n\n"
    "Thank you,\n$practice_name\n\n"
    "Reply STOP to hear no more from us."
)
DEFAULT_ASK_SMS_BODY = (
    "$practice_name: hi $first_name, know someone who'd love results like yours? "
    "Introduce them here: $link  Reply STOP to opt out."
)
DEFAULT_LOOP_CLOSE_BODY = (
    "Hi $first_name, thank you for introducing a friend to $practice_name. $outcome "
    "We are grateful for your trust."
)
OPT_OUT_CONFIRMATION = (
    "$practice_name: you will receive no further messages from us. Thank you."
)
# The most a referrer may hear about a friend; never treatment or clinical details.
OUTCOME_PHRASES = {
    "booked": "Your friend has booked a consultation with us.",
    "treatment": "Your friend has started treatment with us.",
    "contacted": "We have been in touch with your friend.",
}
OUTCOME_DETAILS = ("none", "booked", "treatment")


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready for the outbox: template name, subject (email only) and body."""

    template: str
    subject: str
    body: str


def _settings(session: Session, practice_slug: str) -> OutreachSettings:
    return session.get(OutreachSettings, practice_slug) or OutreachSettings(
        practice_slug=practice_slug
    )


def _fill(text: str, values: dict[str, str]) -> str:
    return Template(text).safe_substitute(values).strip()


def render_ask(
    *, session: Session, practice: PracticeSettings, channel: str, first_name: str, link: str
) -> RenderedMessage:
    """The ask for one patient on `channel` (`email` or `sms`) with their personal link."""
    custom = _settings(session, practice.practice_slug)
    values = {"practice_name": practice.name, "first_name": first_name.strip() or "there",
              "link": link, "share_blurb": practice.share_blurb}
    if channel == "email":
        return RenderedMessage(
            template="ask_email",
            subject=_fill(custom.ask_email_subject or DEFAULT_ASK_EMAIL_SUBJECT, values),
            body=_fill(custom.ask_email_body or DEFAULT_ASK_EMAIL_BODY, values),
        )
    return RenderedMessage(template="ask_sms", subject="",
                           body=_fill(custom.ask_sms_body or DEFAULT_ASK_SMS_BODY, values))


def outcome_phrase(*, lead_status: str, outcome_detail: str) -> str:
    """What the referrer is told: at most "booked" / "started treatment", as the practice allows."""
    if outcome_detail not in OUTCOME_DETAILS:
        outcome_detail = "none"
    if lead_status == "treated" and outcome_detail == "treatment":
        return OUTCOME_PHRASES["treatment"]
    if lead_status in ("booked", "treated") and outcome_detail in ("booked", "treatment"):
        return OUTCOME_PHRASES["booked"]
    return OUTCOME_PHRASES["contacted"]


def render_loop_close(
    *, session: Session, practice: PracticeSettings, channel: str, first_name: str,
    lead_status: str,
) -> RenderedMessage:
    """The thank-you + outcome message to a referrer."""
    custom = _settings(session, practice.practice_slug)
    values = {
        "practice_name": practice.name, "first_name": first_name.strip() or "there",
        "outcome": outcome_phrase(lead_status=lead_status, outcome_detail=custom.outcome_detail),
        "share_blurb": practice.share_blurb,
    }
    body = _fill(custom.loop_close_body or DEFAULT_LOOP_CLOSE_BODY, values)
    subject = f"Thank you from {practice.name}" if channel == "email" else ""
    return RenderedMessage(template=f"loop_close_{channel}", subject=subject, body=body)


def render_opt_out_confirmation(*, practice_name: str) -> RenderedMessage:
    """The one confirmation an opted-out person receives."""
    return RenderedMessage(template="opt_out_confirmation", subject="Unsubscribed",
                           body=_fill(OPT_OUT_CONFIRMATION, {"practice_name": practice_name}))
