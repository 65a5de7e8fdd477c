"""My queue: take the next task, see its context card, log the outcome in a few clicks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import streamlit as st

from console.identity.access import CurrentUser
from console.models.work import Disposition, Task, TaskKind
from console.platform.errors import UserError
from console.platform.wording import kind_label, outcome_label, outcome_sentence
from console.views.identity import store
from console.views.preview import (
    QueueLine,
    QueuePreview,
    log_other_work,
    queue_preview,
    time_practices,
)
from console.views.work import (
    TaskCard,
    created_task,
    held_task,
    log_outcome,
    owed_time,
    put_back,
    send_referral_link,
    set_aside,
    take_next,
    task_card,
)
from console.work.leads import LeadInput
from console.work.other_work import OwedTime
from loopdesk_core.business_hours import local, zone
from loopdesk_core.clock import now
from pages.components import current_user, flash, guarded, page_user, show_flash, table

SNOOZE_CHOICES = {"1 hour": 1, "3 hours": 3, "tomorrow (24 h)": 24}
WORK_AREA = "work_area"  # the fragment key of the preview-or-card area
CARD_KEY = "held_card"  # the KeptCard of the claim on screen (this browser session only)
# A kept card is rebuilt (and its view audited again) after this long: its clock lines.
CARD_FRESH = timedelta(minutes=1)
MINUTES_WIDTH = 180  # px: the minutes box beside the (stretching) outcome box
SNOOZE_WIDTH = 220  # px: the snooze choice beside its two buttons
# With nothing callable, the practice whose hours are most behind (its slug, or None):
# set by the work area, pre-selected by the "Log other work" form below it.
OWED_KEY = "owed_practice"
FORM_FOR = "other_work_for"  # the suggestion the form was last drawn with
PAGE_RUN = "my_queue_page_run"  # True while the whole page runs, not a fragment rerun alone


def _take(logged: str | None = None) -> None:
    """Next task's callback; after Log and take next, `logged` is the confirmation to keep
    (a message about the next task is added to it, never put in its place)."""
    user = page_user(__file__)
    if user is None:
        return  # the page itself shows the login form or the role's pages
    problem = None
    try:
        with store() as session:
            task = take_next(session=session, user=user, now=now())
    except UserError as error:
        problem = str(error)
    else:
        if task is None:
            problem = ("Nothing to call right now: no task you may work is callable at this "
                       "hour.")
    if logged is not None:
        flash("success", logged if problem is None else f"{logged} No next call: {problem}")
    elif problem is not None:
        flash("error", problem)


def _key(card: TaskCard, name: str) -> str:
    return f"{name}-{card.task_id}-{card.claim_version}"


def _callback_at(card: TaskCard) -> datetime | None:
    day = st.session_state.get(_key(card, "cb_day"))
    at = st.session_state.get(_key(card, "cb_time"))
    if day is None or at is None:
        return None
    return datetime.combine(day, at, tzinfo=zone(card.practice_timezone))


def _log(card: TaskCard, take_next_call: bool = False) -> None:
    """Log outcome's callback: record it, then rerun the work area (not only the form).
    Log and take next also claims the next call in the same rerun: the next card comes
    with the confirmation, one rerun fewer per call than Log outcome, then Next task."""
    user = page_user(__file__)
    if user is None:
        return  # the form's own rerun re-reads the user and leaves the page
    logged = _record(card, user)
    if take_next_call and logged is not None:
        _take(logged=logged)
    st.rerun(WORK_AREA)


def _record(card: TaskCard, user: CurrentUser) -> str | None:
    """Log the chosen outcome; the confirmation shown (None, and an error shown, if not)."""
    disposition = st.session_state.get(_key(card, "disposition"))
    if not disposition:
        flash("error", "Choose the outcome first.")
        return None
    lead = None
    if disposition == Disposition.referred:
        lead = LeadInput(
            first_name=st.session_state.get(_key(card, "lead_first"), ""),
            last_name=st.session_state.get(_key(card, "lead_last"), ""),
            phone=st.session_state.get(_key(card, "lead_phone")) or None,
            email=st.session_state.get(_key(card, "lead_email")) or None,
        )
    thank_you = disposition == Disposition.loop_closed and bool(
        st.session_state.get(_key(card, "thank_you"), False))
    try:
        with store() as session:
            result = log_outcome(
                session=session, user=user, task_id=card.task_id,
                claim_version=card.claim_version, disposition=disposition,
                minutes=float(st.session_state[_key(card, "minutes")]),
                notes=st.session_state.get(_key(card, "notes"), ""),
                callback_at=(_callback_at(card)
                             if disposition == Disposition.callback_requested else None),
                lead=lead, now=now(), send_thank_you=thank_you)
            follow = created_task(session=session, user=user, task_id=result.next_task_id)
    except UserError as error:
        flash("error", str(error))
        return None
    message = f"Logged: {outcome_sentence(disposition, card.first_name)}."
    if follow is not None:
        message += f" Next action created: {kind_label(follow.kind).lower()}."
    if result.thank_you_message_id is not None:
        message += " Thank-you message queued."
    elif thank_you:
        message += " No thank-you message queued (no email or text consent, or sent before)."
    flash("success", message)
    return message


def _release(card: TaskCard) -> None:
    user = page_user(__file__)
    if user is None:
        return
    try:
        with store() as session:
            put_back(session=session, user=user, task_id=card.task_id,
                     claim_version=card.claim_version, now=now())
    except UserError as error:
        flash("error", str(error))
        return
    flash("success", f"The call to {card.person_name} is back in the queue.")


def _snooze(card: TaskCard) -> None:
    hours = SNOOZE_CHOICES[st.session_state[_key(card, "snooze_for")]]
    moment = now()
    user = page_user(__file__)
    if user is None:
        return
    try:
        with store() as session:
            set_aside(session=session, user=user, task_id=card.task_id,
                      claim_version=card.claim_version, until=moment + timedelta(hours=hours),
                      now=moment)
    except UserError as error:
        flash("error", str(error))
        return
    flash("success", f"The call to {card.person_name} is snoozed for {hours} h.")


def _send_link(card: TaskCard, channel: str) -> None:
    user = page_user(__file__)
    if user is None:
        return
    try:
        with store() as session:
            queued = send_referral_link(session=session, user=user,
                                        task_id=card.task_id, channel=channel, now=now())
    except UserError as error:
        flash("error", str(error))
        return
    how = "text" if channel == "sms" else "email"
    flash("success", f"Referral link queued by {how} for {card.first_name} (sent within "
                     "calling hours)." if queued else
                     f"The referral link was already queued by {how} for {card.first_name}.")


def _card(card: TaskCard) -> None:
    """Who to call and the number to dial, their time, the SLA: the top of the card."""
    st.subheader(f"{card.kind_label} · {card.practice_name}")
    who, when, sla = st.columns(3)
    with who:
        st.metric("Calling", card.person_name)
        if card.phone_text and card.phone_link:
            st.link_button(f"Call {card.phone_text}", card.phone_link, type="primary",
                           icon=":material/call:")
            st.caption(f"{card.phone_label.capitalize()} · consented: {_consented(card)}")
        else:
            st.warning("No phone number on file for this person.")
    with when:
        st.metric("Their local time", card.person_local_time)
        st.caption(card.window_closes.capitalize())
    sla.metric("SLA", card.sla)
    if card.consent["do_not_contact"]:
        st.error("Do not contact: log the call only if they called you.")


def _consented(card: TaskCard) -> str:
    names = {"call": "call", "text": "text", "email": "email"}
    return ", ".join(label for channel, label in names.items() if card.consent.get(channel)) \
        or "none"


def _details(card: TaskCard) -> None:
    """Why it is first, what to say, the treatment and previous touches (below the form).

    Few elements (each is server work and browser work on every card): the facts are one
    text block, and the touches table is only built when its expander is opened (the last
    touch is summarised above it).
    """
    facts = ["Why first: " + " · ".join(card.why)]
    if card.treatment:
        facts.append(f"Treatment: {card.treatment}"
                     + (f" ({card.case_value} case)" if card.case_value else ""))
    if card.results_visible:
        facts.append(f"Results visible: {card.results_visible}")
    if card.lead_outcome:
        facts.append(f"Lead outcome: {card.lead_outcome}")
    facts.append(f"Practice local time: {card.practice_local_time}")
    if card.touches:
        last = card.touches[0]
        facts.append(f"Last touch: {last['when']} · {last['how']} · {last['outcome']} · "
                     f"by {last['by']}")
    else:
        facts.append("No previous touches.")
    st.text("\n".join(facts))
    with st.expander("What to say", expanded=True):
        st.text(card.script)
    if not card.touches:
        return
    touches = st.expander(f"Last touches ({len(card.touches)})", on_change="rerun",
                          key=_key(card, "touches"))
    if touches.open:
        with touches:
            table(card.touches, empty="No previous touches.")


def _form(card: TaskCard) -> None:
    _outcome_form(card)
    if card.kind in (TaskKind.ask, TaskKind.follow_up):
        _link_actions(card)


@st.fragment
def _outcome_form(card: TaskCard) -> None:
    """The outcome, minutes, the outcome's own fields and Log outcome: a fragment inside the
    work area, so choosing an outcome (which shows its fields and enables Log outcome) reruns
    only this form. It re-reads the user too (`current_user`); Log outcome reruns the whole
    work area (the confirmation and the queue)."""
    current_user(__file__)
    with st.container(horizontal=True):
        disposition = st.selectbox(
            "Outcome", card.dispositions, key=_key(card, "disposition"), index=None,
            placeholder="Choose what happened (type to search)", format_func=outcome_label)
        st.number_input("Minutes spent", min_value=0.0, max_value=600.0, value=5.0, step=1.0,
                        key=_key(card, "minutes"), width=MINUTES_WIDTH)
    if disposition == Disposition.referred:
        st.caption("The referred friend (a name and a phone or an email)")
        first, last = st.columns(2)
        first.text_input("Lead first name", key=_key(card, "lead_first"))
        last.text_input("Lead last name", key=_key(card, "lead_last"))
        phone, email = st.columns(2)
        phone.text_input("Lead phone", key=_key(card, "lead_phone"))
        email.text_input("Lead email", key=_key(card, "lead_email"))
    if disposition == Disposition.loop_closed:
        channel = card.thank_you_channel
        st.checkbox("Send thank-you message", value=channel is not None,
                    key=_key(card, "thank_you"))
        by = "email" if channel == "email" else "text message"
        st.caption(f"A written thank-you and the outcome go to the referrer by {by}."
                   if channel else "The referrer has no email or text consent: no message.")
    if disposition == Disposition.callback_requested:
        tomorrow = local(now(), card.practice_timezone).date() + timedelta(days=1)
        day, at = st.columns(2)
        day.date_input("Call back on (practice time)", value=tomorrow, key=_key(card, "cb_day"))
        at.time_input("at", value=time(10, 0), key=_key(card, "cb_time"))
    st.text_input("Notes (optional)", key=_key(card, "notes"), max_chars=2000)
    with st.container(horizontal=True):
        st.button("Log outcome", type="primary", on_click=_log, args=(card,),
                  disabled=disposition is None,
                  help=None if disposition else "Choose the outcome first")
        st.button("Log and take next", on_click=_log, args=(card, True),
                  disabled=disposition is None, icon=":material/skip_next:",
                  help="Log this outcome and open the next call's card at once"
                  if disposition else "Choose the outcome first")


def _link_actions(card: TaskCard) -> None:
    """Send the personal referral link by text or email, as the person consented."""
    if not card.link_channels:
        st.caption("No text or email consent: a referral link cannot be sent.")
        return
    labels = {"sms": "Text the referral link", "email": "Email the referral link"}
    with st.container(horizontal=True):
        for channel in card.link_channels:
            st.button(labels[channel], on_click=_send_link, args=(card, channel),
                      key=_key(card, f"link_{channel}"), icon=":material/send:")


def _put_aside(card: TaskCard) -> None:
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.selectbox("Snooze for", list(SNOOZE_CHOICES), key=_key(card, "snooze_for"),
                     width=SNOOZE_WIDTH)
        st.button("Snooze", on_click=_snooze, args=(card,))
        st.button("Release to queue", on_click=_release, args=(card,))


def _log_time(practices: dict[str, str]) -> None:
    """Log the "other work" form's minutes for the chosen practice (a button callback)."""
    user = page_user(__file__)
    if user is None:
        return
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
    """The "Log other work" form: minutes spent for one of the user's practices outside calls.

    When the work area suggested a practice (nothing callable, its hours behind), the form is
    open with that practice chosen — once per new suggestion, so a coordinator's own choice
    stays until the suggestion changes."""
    suggested = st.session_state.get(OWED_KEY)
    if suggested not in practices:
        suggested = None
    if suggested is not None and suggested != st.session_state.get(FORM_FOR):
        st.session_state["time_practice"] = suggested
    st.session_state[FORM_FOR] = suggested
    with st.expander("Log other work", expanded=suggested is not None):
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


def _suggest(owed: OwedTime | None) -> None:
    """Remember where an idle coordinator's time is owed, for the "Log other work" form.

    The form is outside this fragment: when a fragment rerun alone (e.g. after logging the
    last callable call) brings a new suggestion, the whole page reruns once so the form
    pre-selects it."""
    slug = owed.practice_slug if owed is not None else None
    st.session_state[OWED_KEY] = slug
    if (slug is not None and slug != st.session_state.get(FORM_FOR)
            and not st.session_state.get(PAGE_RUN)):
        st.rerun(scope="app")


def owed_sentence(reason: str, owed: OwedTime | None) -> str:
    """The idle preview's reason, then where the coordinator's time is owed, if anywhere:
    "… Lakeshore Dental is 4.2 h behind its contracted hours this week: log referral work
    for them below." """
    if owed is None:
        return reason
    return f"{reason} {owed.sentence}: log referral work for them below."


def _preview(preview: QueuePreview, owed: OwedTime | None = None) -> None:
    """The next callable task and why it is first, then the queue ahead (no patient data);
    with nothing callable, why, and the practice whose hours are most behind (`owed`)."""
    first = preview.next_up
    opening = preview.next_opening
    reason = None
    held, better = preview.held_calls, preview.next_held
    if first is None:
        waiting = preview.waiting_for_hours
        if better is not None:
            reason = (f"Nothing to call right now: {held} "
                      f"call{'s are' if held != 1 else ' is'} held for a better hour — "
                      f"{better.sentence}.")
            if opening is not None:
                reason += (f" {waiting} task{'s' if waiting != 1 else ''} wait"
                           f"{'' if waiting != 1 else 's'} for calling hours "
                           f"({opening.sentence}).")
            st.info(owed_sentence(reason, owed))
            table([{"better hour": f"{o.opens_local} in {o.zone_name}", "when": o.opens_in,
                    "calls held": o.tasks} for o in preview.held], empty="")
        elif opening is not None:
            reason = (f"Nothing to call right now: {opening.sentence}. {waiting} "
                      f"task{'s' if waiting != 1 else ''} wait for calling hours.")
            st.info(owed_sentence(reason, owed))
            table([{"calling opens": f"{o.opens_local} in {o.zone_name}", "when": o.opens_in,
                    "tasks waiting": o.tasks} for o in preview.openings], empty="")
        else:
            reason = "Nothing to call right now — no task in your practices is due."
            st.info(owed_sentence(reason, owed))
    else:
        # A heading and one text block, not three metric tiles: a practice name or a task
        # kind in a third of the page was cut ("Lakeshore Dental …", "Contact a referre…"),
        # and each tile is browser work on every call.
        st.subheader(f"Next up: {first.kind}")
        why = without_sla(first.why)
        st.text(f"{first.practice_name} · SLA {first.sla}"
                + (f"\nWhy it is first: {why}" if why else ""))
        if better is not None:
            st.caption(f"{held} call{'s' if held != 1 else ''} held for a better hour "
                       f"(from {better.opens_local} their time).")
    st.button("Next task", type="primary", on_click=_take, disabled=first is None,
              help=reason)
    _queue_ahead(preview)


def _queue_ahead(preview: QueuePreview) -> None:
    """The open count, then the queue in the order Next task will hand it out, then what
    waits: plain-text blocks, one line per task (`queue_line`, `waiting_line`).

    In claim order, not priority order: Next task takes callable tasks only, best first, so
    the preview lists the callable ones after Next up (never Next up again), and the
    higher-ranked tasks that cannot be called now apart, each with when or why. (A single
    priority list read "1. not callable, 2. the Next up task, 3. not callable…".)
    Plain text, not an `st.dataframe`: the grid was about a fifth of the browser's work per
    call with 8 coordinators at once (docs/benchmarks.md, "Coordinator flow, browser cost"),
    and `st.table` would render the cells as Markdown.
    """
    st.caption(f"{preview.open_tasks} open tasks in your practices.")
    if not preview.lines:
        st.caption("The queue is empty.")
        return
    if preview.ahead:
        st.text("\n".join(["After it, in the order Next task gives them:",
                           *(queue_line(n, line) for n, line in
                             enumerate(preview.ahead, start=2))]))
    elif preview.next_up is not None:
        st.caption("Nothing else is callable right now.")
    if preview.waiting:
        st.text("\n".join(["Not callable now (the highest ranked):",
                           *(waiting_line(line) for line in preview.waiting)]))


def without_sla(why: str) -> str:
    """The reasons without their SLA part: the SLA is shown beside them as its own field."""
    return " · ".join(part for part in why.split(" · ") if not part.startswith("SLA "))


def queue_line(number: int, line: QueueLine) -> str:
    """One callable task of the queue ahead, numbered as Next task will give it (Next up is
    1): practice · task · SLA — why it ranks there."""
    why = without_sla(line.why)
    return (f"{number}. {line.practice_name} · {line.kind} · SLA {line.sla}"
            + (f" — {why}" if why else ""))


def waiting_line(line: QueueLine) -> str:
    """One task that cannot be called now: practice · task · SLA · not callable now: when or
    why — then why it ranks high."""
    why = without_sla(line.why)
    return (f"- {line.practice_name} · {line.kind} · SLA {line.sla} · not callable now: "
            f"{line.when}" + (f" — {why}" if why else ""))


def _held_card(user: CurrentUser, task: Task, moment: datetime) -> TaskCard:
    """The card of the task the user holds: built (and audited as a view) once per claim,
    then kept in this browser session's (server-side) state while the same user still holds
    that same claim.

    Reruns on the card (choosing an outcome shows its fields) redraw the kept card instead
    of re-reading the snapshot and auditing another view. The user was re-read from the store
    this run (`current_user`) and `task` is their unexpired lease, re-read this run too; the
    kept card is only shown to that user, in a practice they may still work, and is built
    afresh after a minute (its clock lines) or for any other claim.
    """
    kept = st.session_state.get(CARD_KEY)
    claim = (user.user_id, task.task_id, task.claim_version)
    if (isinstance(kept, KeptCard) and kept.claim == claim
            and timedelta(0) <= moment - kept.built_at < CARD_FRESH
            and user.scope.allows(kept.card.practice_slug)):
        return kept.card
    held_id: int = task.task_id or 0
    with store() as db:
        card = guarded(lambda: task_card(session=db, user=user, task_id=held_id, now=moment))
    st.session_state[CARD_KEY] = KeptCard(claim=claim, built_at=moment, card=card)
    return card


@dataclass(frozen=True)
class KeptCard:
    """A built card, for the claim (user, task, claim version) it was built for."""

    claim: tuple[int, int | None, int]
    built_at: datetime
    card: TaskCard


@st.fragment(key=WORK_AREA)
def _work_area() -> None:
    """The queue preview or the held task's card, with its form.

    A fragment: Next task, choosing an outcome, Log outcome, Snooze, Release and the link
    buttons rerun only this function, not the router, the sidebar or the rest of the page.
    Each run, fragment reruns included, re-reads the user's role and practices from the
    store (`current_user`), and a user who may no longer open My queue gets a full rerun
    (the login form, or their role's pages).
    """
    user = current_user(__file__)
    show_flash()
    moment = now()
    with store() as db:
        held = held_task(session=db, user=user, now=moment)
    if held is None or not user.scope.allows(held.practice_slug):
        st.session_state.pop(CARD_KEY, None)
        st.write("Take the single most valuable call across your practices.")
        with store() as db:
            summary = guarded(lambda: queue_preview(session=db, user=user, now=moment))
            owed = None if summary.next_up is not None else guarded(
                lambda: owed_time(session=db, user=user, now=moment))
        _suggest(owed)
        _preview(summary, owed)
        return
    _suggest(None)
    current = _held_card(user, held, moment)
    _card(current)
    _form(current)
    _details(current)
    _put_aside(current)


user = current_user(__file__)
st.title("My queue")
st.session_state[PAGE_RUN] = True
_work_area()
st.divider()
with store() as db:
    mine = time_practices(session=db, user=user)
_other_work(mine)
st.session_state[PAGE_RUN] = False
