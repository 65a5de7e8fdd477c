"""My queue: take the next task, see its context card, log the outcome in a few clicks."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import streamlit as st

from console.business_hours import local, zone
from console.clock import now
from console.errors import UserError
from console.leads import LeadInput
from console.views.identity import store
from console.views.preview import QueuePreview, log_other_work, queue_preview, time_practices
from console.views.work import (
    TaskCard,
    created_task,
    held_task,
    log_outcome,
    put_back,
    set_aside,
    take_next,
    task_card,
)
from pages.components import current_user, flash, guarded, show_flash, table

SNOOZE_CHOICES = {"1 hour": 1, "3 hours": 3, "tomorrow (24 h)": 24}


def _take() -> None:
    user = current_user(__file__)
    try:
        with store() as session:
            task = take_next(session=session, user=user, now=now())
    except UserError as error:
        flash("error", str(error))
        return
    if task is None:
        flash("error", "Nothing to call right now: no task you may work is callable at this hour.")


def _key(card: TaskCard, name: str) -> str:
    return f"{name}-{card.task_id}-{card.claim_version}"


def _callback_at(card: TaskCard) -> datetime | None:
    day = st.session_state.get(_key(card, "cb_day"))
    at = st.session_state.get(_key(card, "cb_time"))
    if day is None or at is None:
        return None
    return datetime.combine(day, at, tzinfo=zone(card.practice_timezone))


def _log(card: TaskCard) -> None:
    user = current_user(__file__)
    disposition = st.session_state[_key(card, "disposition")]
    lead = None
    if disposition == "referred":
        lead = LeadInput(
            first_name=st.session_state.get(_key(card, "lead_first"), ""),
            last_name=st.session_state.get(_key(card, "lead_last"), ""),
            phone=st.session_state.get(_key(card, "lead_phone")) or None,
            email=st.session_state.get(_key(card, "lead_email")) or None,
        )
    thank_you = disposition == "loop_closed" and bool(
        st.session_state.get(_key(card, "thank_you"), False))
    try:
        with store() as session:
            result = log_outcome(
                session=session, user=user, task_id=card.task_id,
                claim_version=card.claim_version, disposition=disposition,
                minutes=float(st.session_state[_key(card, "minutes")]),
                notes=st.session_state.get(_key(card, "notes"), ""),
                callback_at=_callback_at(card) if disposition == "callback_requested" else None,
                lead=lead, now=now(), send_thank_you=thank_you)
            follow = created_task(session=session, user=user, task_id=result.next_task_id)
    except UserError as error:
        flash("error", str(error))
        return
    message = f"Logged {disposition.replace('_', ' ')} on task {card.task_id}."
    if follow is not None:
        message += f" Next action: {follow.kind} task {follow.task_id} created."
    if result.thank_you_message_id is not None:
        message += " Thank-you message queued."
    elif thank_you:
        message += " No thank-you message queued (no email or text consent, or sent before)."
    flash("success", message)


def _release(card: TaskCard) -> None:
    try:
        with store() as session:
            put_back(session=session, user=current_user(__file__), task_id=card.task_id,
                     claim_version=card.claim_version, now=now())
    except UserError as error:
        flash("error", str(error))
        return
    flash("success", f"Task {card.task_id} is back in the queue.")


def _snooze(card: TaskCard) -> None:
    hours = SNOOZE_CHOICES[st.session_state[_key(card, "snooze_for")]]
    moment = now()
    try:
        with store() as session:
            set_aside(session=session, user=current_user(__file__), task_id=card.task_id,
                      claim_version=card.claim_version, until=moment + timedelta(hours=hours),
                      now=moment)
    except UserError as error:
        flash("error", str(error))
        return
    flash("success", f"Task {card.task_id} snoozed for {hours} h.")


def _card(card: TaskCard) -> None:
    st.subheader(f"{card.kind.replace('_', ' ').title()} · task {card.task_id}")
    left, middle, right = st.columns(3)
    left.metric("Calling", card.person_name)
    middle.metric("Practice", card.practice_name)
    right.metric("SLA", card.sla)
    st.text(f"Practice local time: {card.practice_local_time}")
    if card.treatment:
        st.text(f"Treatment: {card.treatment}")
    if card.results_visible:
        st.text(f"Results visible: {card.results_visible}")
    if card.lead_outcome:
        st.text(f"Lead outcome: {card.lead_outcome}")
    consent = ", ".join(ch for ch in ("call", "text", "email") if card.consent.get(ch)) or "none"
    st.text(f"Consent: {consent}" + (" · DO NOT CONTACT" if card.consent["do_not_contact"]
                                      else ""))
    st.text("Why first: " + " · ".join(card.why))
    with st.expander("What to say", expanded=True):
        st.text(card.script)
    with st.expander(f"Previous touches ({len(card.touches)})"):
        table(card.touches, empty="No previous touches.")


def _form(card: TaskCard) -> None:
    disposition = st.selectbox(
        "Outcome", card.dispositions, key=_key(card, "disposition"),
        format_func=lambda value: value.replace("_", " "))
    st.number_input("Minutes spent", min_value=0.0, max_value=600.0, value=5.0, step=1.0,
                    key=_key(card, "minutes"))
    st.text_area("Notes", key=_key(card, "notes"), max_chars=2000)
    if disposition == "referred":
        st.caption("The referred friend (a name and a phone or an email)")
        first, last = st.columns(2)
        first.text_input("Lead first name", key=_key(card, "lead_first"))
        last.text_input("Lead last name", key=_key(card, "lead_last"))
        phone, email = st.columns(2)
        phone.text_input("Lead phone", key=_key(card, "lead_phone"))
        email.text_input("Lead email", key=_key(card, "lead_email"))
    if disposition == "loop_closed":
        channel = card.thank_you_channel
        st.checkbox("Send thank-you message", value=channel is not None,
                    key=_key(card, "thank_you"))
        by = "email" if channel == "email" else "text message"
        st.caption(f"A written thank-you and the outcome go to the referrer by {by}."
                   if channel else "The referrer has no email or text consent: no message.")
    if disposition == "callback_requested":
        tomorrow = local(now(), card.practice_timezone).date() + timedelta(days=1)
        day, at = st.columns(2)
        day.date_input("Call back on (practice time)", value=tomorrow, key=_key(card, "cb_day"))
        at.time_input("at", value=time(10, 0), key=_key(card, "cb_time"))
    st.button("Log outcome", type="primary", on_click=_log, args=(card,))
    snooze_col, release_col = st.columns(2)
    with snooze_col:
        st.selectbox("Snooze for", list(SNOOZE_CHOICES), key=_key(card, "snooze_for"))
        st.button("Snooze", on_click=_snooze, args=(card,))
    with release_col:
        st.button("Release to queue", on_click=_release, args=(card,))


def _log_time(practices: dict[str, str]) -> None:
    """Log the "other work" form's minutes for the chosen practice (a button callback)."""
    user = current_user(__file__)
    slug = st.session_state.get("time_practice")
    if not slug:
        flash("error", "Choose a practice to log time for.")
        return
    try:
        with store() as session:
            touch = log_other_work(
                session=session, user=user, practice_slug=slug,
                minutes=float(st.session_state["time_minutes"]),
                note=st.session_state.get("time_note", ""), now=now())
    except UserError as error:
        flash("error", str(error))
        return
    flash("success", f"Logged {touch.minutes:g} min of other work for {practices.get(slug, slug)}.")


def _other_work(practices: dict[str, str]) -> None:
    """The "Log other work" form: minutes spent for one of the user's practices outside calls."""
    with st.expander("Log other work"):
        if not practices:
            st.caption("You have no practices to log time for.")
            return
        with st.form("other_work", clear_on_submit=True):
            st.selectbox("Practice", list(practices), key="time_practice",
                         format_func=lambda slug: practices.get(slug, slug))
            st.number_input("Minutes", min_value=1.0, max_value=480.0, value=30.0, step=5.0,
                            key="time_minutes")
            st.text_input("Note (optional)", key="time_note", max_chars=200)
            st.form_submit_button("Log time", on_click=_log_time, args=(practices,))


def _preview(preview: QueuePreview) -> None:
    """The next callable task and why it is first, then the queue ahead (no patient data)."""
    first = preview.next_up
    if first is None:
        waiting = preview.waiting_for_hours
        st.info(f"Nothing to call right now — {waiting} task{'s' if waiting != 1 else ''} "
                f"wait for calling hours." if waiting else
                "Nothing to call right now — no task in your practices is due.")
    else:
        st.subheader("Next up")
        left, middle, right = st.columns(3)
        left.metric("Practice", first.practice_name)
        middle.metric("Task", first.kind)
        right.metric("SLA", first.sla)
        st.text("Why it is first: " + first.why)
    st.button("Next task", type="primary", on_click=_take)
    st.caption(f"{preview.open_tasks} open tasks in your practices.")
    table([{"practice": line.practice_name, "task": line.kind, "why": line.why,
            "SLA": line.sla, "callable": line.when} for line in preview.lines],
          empty="The queue is empty.")


user = current_user(__file__)
st.title("My queue")
show_flash()
moment = now()
with store() as db:
    held = held_task(session=db, user=user, now=moment)
    task_id = held.task_id if held is not None else None
if task_id is None:
    st.write("Take the single most valuable call across your practices.")
    with store() as db:
        summary = guarded(lambda: queue_preview(session=db, user=user, now=moment))
    _preview(summary)
else:
    held_id: int = task_id
    with store() as db:
        current = guarded(lambda: task_card(session=db, user=user, task_id=held_id, now=moment))
    _card(current)
    st.divider()
    _form(current)
st.divider()
with store() as db:
    mine = time_practices(session=db, user=user)
_other_work(mine)
