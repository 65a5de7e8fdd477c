"""How the console says things: durations, task kinds, outcomes and phone numbers for people.

Pages never show a raw slug (`contact_lead`, `no_answer`) or a bare "0 h": they call these.
"""

from __future__ import annotations

from datetime import timedelta

from console.models.work import Disposition, TaskKind

KIND_LABELS: dict[str, str] = {
    TaskKind.ask: "Ask for a referral",
    TaskKind.follow_up: "Follow up",
    TaskKind.contact_lead: "Contact a referred lead",
    TaskKind.close_loop: "Close the loop",
    TaskKind.review_request: "Ask for a review",
}
# The outcome list as a coordinator reads it (the value stored stays the disposition name).
OUTCOME_LABELS: dict[str, str] = {
    Disposition.referred: "Referred a friend",
    Disposition.willing_no_name: "Willing, but no name yet",
    Disposition.declined: "Declined",
    Disposition.voicemail: "Left a voicemail",
    Disposition.no_answer: "No answer",
    Disposition.callback_requested: "Asked to be called back",
    Disposition.loop_closed: "Told them how it went (loop closed)",
    Disposition.lead_booked: "Booked a consultation",
    Disposition.lead_declined: "Not interested",
    Disposition.lead_unreachable: "Could not be reached",
    Disposition.wrong_number: "Wrong number",
    Disposition.opted_out: "Asked not to be contacted",
}
# "{name} ..." sentences for a logged outcome.
_OUTCOME_SENTENCES: dict[str, str] = {
    Disposition.referred: "{name} referred a friend",
    Disposition.willing_no_name: "{name} is willing to refer but had no name yet",
    Disposition.declined: "{name} declined",
    Disposition.voicemail: "Left {name} a voicemail",
    Disposition.no_answer: "{name} did not answer",
    Disposition.callback_requested: "{name} asked to be called back",
    Disposition.loop_closed: "{name} heard how their referral went",
    Disposition.lead_booked: "{name} booked a consultation",
    Disposition.lead_declined: "{name} is not interested",
    Disposition.lead_unreachable: "{name} could not be reached",
    Disposition.wrong_number: "The number for {name} was wrong",
    Disposition.opted_out: "{name} asked not to be contacted",
    "automated": "The message went out automatically",
}
CHANNEL_LABELS = {"call": "call", "sms": "text", "text": "text", "email": "email",
                  "admin": "other work"}
STATUS_LABELS = {"open": "open", "claimed": "being worked", "done": "done",
                 "cancelled": "cancelled", "snoozed": "snoozed"}


def humanise(value: str | None) -> str:
    """A stored name (`callback_requested`) as words ("callback requested"); "—" for nothing."""
    if not value:
        return "—"
    return value.replace("_", " ")


def kind_label(kind: str) -> str:
    """A task kind as the coordinator reads it."""
    return KIND_LABELS.get(kind, humanise(kind).capitalize())


def outcome_label(disposition: str | None) -> str:
    """An outcome name as a label ("No answer")."""
    if not disposition:
        return "—"
    return OUTCOME_LABELS.get(disposition, humanise(disposition).capitalize())


def outcome_sentence(disposition: str | None, name: str) -> str:
    """A logged outcome as a sentence: "Dana booked a consultation"."""
    if not disposition:
        return "—"
    template = _OUTCOME_SENTENCES.get(disposition)
    if template is None:
        return f"{name}: {humanise(disposition)}"
    return template.format(name=name)


def span(delta: timedelta) -> str:
    """A length of time for reading: "under a minute", "25 min", "3 h", "4 days"."""
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        return "under a minute"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    hours = seconds / 3600
    if hours < 48:
        return f"{round(hours)} h"
    return f"{round(hours / 24)} days"


def ago(delta: timedelta) -> str:
    """How long ago: "just now", "25 min ago", "3 h ago"."""
    if abs(delta.total_seconds()) < 60:
        return "just now"
    return f"{span(delta)} ago"


def until(delta: timedelta) -> str:
    """How long until: "now", "in 25 min", "in 3 h"."""
    if delta.total_seconds() < 60:
        return "now"
    return f"in {span(delta)}"


def countdown_text(left: timedelta) -> str:
    """An SLA countdown: "in 4 h", "due now", "breached just now", "breached 3 h ago"."""
    if left > timedelta(0):
        return "due now" if left.total_seconds() < 60 else f"in {span(left)}"
    return f"breached {ago(left)}"


def sla_short(left: timedelta) -> str:
    """An SLA for a narrow card: "due in 4 h", "due now", "3 h overdue"."""
    if left > timedelta(0):
        return "due now" if left.total_seconds() < 60 else f"due in {span(left)}"
    return "just overdue" if -left.total_seconds() < 60 else f"{span(left)} overdue"


def phone_display(e164: str | None) -> str | None:
    """An E.164 number formatted for reading aloud: "(312) 555-0142", "+44 20 7946 0958"."""
    if not e164:
        return None
    import phonenumbers  # here, not at the top: `claim` and `log` import this module

    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    style = (phonenumbers.PhoneNumberFormat.NATIONAL if parsed.country_code == 1
             else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(parsed, style)


def tel_link(e164: str | None) -> str | None:
    """A `tel:` link for a stored E.164 number (digits and a leading + only)."""
    if not e164:
        return None
    digits = "".join(ch for ch in e164 if ch.isdigit())
    return f"tel:+{digits}" if digits else None
