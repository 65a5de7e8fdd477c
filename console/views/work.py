"""Coordinator work: take the next task, its context card, log the outcome, snooze, release."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from console.contact.consent import revoked_channels
from console.contact.gate import CALL_WINDOW
from console.identity import audit
from console.identity.access import WORKER_ROLES, CurrentUser, require_practice, require_role
from console.identity.audit import Action, Outcome
from console.messaging.templates import outcome_phrase
from console.models.identity import User
from console.models.outreach import OutreachSettings
from console.models.practice import PracticeSettings
from console.models.work import Disposition, Lead, Task, TaskKind, TaskStatus, Touch
from console.platform.db import begin_write, retrying
from console.platform.errors import NotAuthorised, UserError
from console.platform.snapshot import snapshot
from console.platform.wording import (
    CHANNEL_LABELS,
    ago,
    humanise,
    kind_label,
    outcome_sentence,
    phone_display,
    sla_short,
    tel_link,
    until,
)
from console.scoring.priority import Share
from console.views.data import money_text
from console.work.claims import claim_next, release, snooze
from console.work.dispositions import (
    LEAD_DISPOSITIONS,
    PATIENT_DISPOSITIONS,
    DispositionResult,
    log_disposition,
)
from console.work.leads import LeadInput
from console.work.loop_closure import message_channel, read_referrer
from console.work.other_work import OwedTime, most_behind
from loopdesk_core.business_hours import local
from warehouse import lookups

# Cards that offer "Send referral link".
LINK_KINDS = (TaskKind.ask, TaskKind.follow_up)
# How many ranked tasks the preview reads (to find the first callable one) and shows.
# The order a coordinator sees dispositions in: the common outcomes first.
DISPOSITION_ORDER = (
    Disposition.referred, Disposition.willing_no_name, Disposition.declined,
    Disposition.voicemail, Disposition.no_answer, Disposition.callback_requested,
    Disposition.loop_closed, Disposition.lead_booked, Disposition.lead_declined,
    Disposition.lead_unreachable, Disposition.wrong_number, Disposition.opted_out,
)  # fmt: skip
SCRIPTS: dict[str, str] = {
    TaskKind.ask: (
        "Hi {first}, this is {me} calling from {practice}. We hope you're enjoying your "
        "{treatment} results! Many patients tell us friends have asked about it — is there "
        "anyone who'd like to hear more? I can take their details now, or send you a "
        "personal link to share."
    ),
    TaskKind.follow_up: (
        "Hi {first}, it's {me} from {practice}, following up on our message about your "
        "{treatment} results. Is there a friend or family member who might like to know more?"
    ),
    TaskKind.contact_lead: (
        "Hi {first}, this is {me} from {practice}. {referrer} thought you might like to "
        "hear about what they had done. Would a free consultation this week or next suit you?"
    ),
    TaskKind.close_loop: (
        "Hi {first}, it's {me} from {practice} — thank you so much for referring {lead}! "
        "{outcome} We really appreciate it."
    ),
    TaskKind.review_request: (
        "Hi {first}, it's {me} from {practice}. We're so glad you're happy with your "
        "results — would you share your experience in a short online review?"
    ),
}


@dataclass(frozen=True)
class TaskCard:
    """Everything a coordinator needs on screen for the task they hold."""

    task_id: int
    claim_version: int
    kind: str
    practice_slug: str
    practice_name: str
    practice_local_time: str
    practice_timezone: str
    person_name: str
    subject_type: str
    treatment: str | None
    results_visible: str | None
    consent: dict[str, bool]
    sla: str
    why: list[str]
    script: str
    dispositions: list[str]
    touches: list[dict[str, Any]] = field(default_factory=list)
    lead_outcome: str | None = None
    # close_loop only: where a written thank-you would go ("email" / "sms"), None if nowhere.
    thank_you_channel: str | None = None
    # The number to dial: as stored (E.164), formatted for reading, its `tel:` link and
    # what the export says it is ("mobile", "home"; "number on file" when it does not say).
    phone: str | None = None
    phone_text: str | None = None
    phone_link: str | None = None
    phone_label: str = "number on file"
    # The person's local time (the practice's zone) and when today's calling window closes.
    person_local_time: str = ""
    window_closes: str = ""
    case_value: str | None = None
    # Channels a personal referral link may go out on now ("sms", "email"), per consent.
    link_channels: list[str] = field(default_factory=list)
    kind_label: str = ""

    @property
    def first_name(self) -> str:
        """The first word of the person's name, for sentences."""
        return self.person_name.split(" ")[0] if self.person_name else "them"


def held_task(*, session: Session, user: CurrentUser, now: datetime) -> Task | None:
    """The task the user holds right now (unexpired lease), newest claim first."""
    return session.exec(
        select(Task)
        .where(Task.claimed_by == user.user_id)
        .where(Task.status == TaskStatus.claimed)
        .where(col(Task.lease_expires_at) > now)
        .order_by(col(Task.claimed_at).desc())
    ).first()


def take_next(*, session: Session, user: CurrentUser, now: datetime) -> Task | None:
    """Claim the most valuable task the user may call now, or None (claim_next audits it)."""
    require_role(user, WORKER_ROLES)
    return retrying(session, lambda: claim_next(session=session, user=user,
                                                now=now))


def owed_time(*, session: Session, user: CurrentUser, now: datetime) -> OwedTime | None:
    """Where an idle coordinator's time is owed: the practice in their scope furthest behind
    its pro-rated contracted hours this week, or None when none is behind (My queue suggests
    logging referral work for it when nothing is callable)."""
    require_role(user, WORKER_ROLES)
    return most_behind(session=session, user=user, now=now)


def _held(session: Session, user: CurrentUser, task_id: int) -> Task:
    task = session.get(Task, task_id, populate_existing=True)
    if task is None or not user.scope.allows(task.practice_slug):
        raise NotAuthorised("you do not hold that task")
    if task.claimed_by != user.user_id or task.status != TaskStatus.claimed:
        raise NotAuthorised("you do not hold that task (the lease may have lapsed)")
    return task


def _name(first: Any, last: Any) -> str:
    text = " ".join(str(part) for part in (first, last) if part)
    return text or "(name not on file)"


@dataclass(frozen=True)
class _Contact:
    """Who the task is about, how to reach them and what they consented to."""

    name: str
    consent: dict[str, bool]
    phone: str | None = None
    email: str | None = None
    phone_type: str | None = None


def _person(conn: Any, session: Session, user: CurrentUser, task: Task) -> _Contact:
    """The subject's display name, number, email and consent flags."""
    if task.subject_type == "lead":
        lead = session.get(Lead, (task.practice_slug, task.subject_id))
        if lead is not None:
            return _Contact(_name(lead.first_name, lead.last_name),
                            {"call": True, "text": bool(lead.phone), "email": bool(lead.email),
                             "do_not_contact": False}, phone=lead.phone, email=lead.email)
        row = lookups.lead(conn, scope=user.scope, practice_slug=task.practice_slug,
                           lead_id=task.subject_id) or {}
        name = _name(row.get("lead_first_name"), row.get("lead_last_name"))
        return _Contact(name, {"call": task.consent_call, "text": False, "email": False,
                               "do_not_contact": task.do_not_contact},
                        phone=row.get("lead_phone"), email=row.get("lead_email"))
    found = lookups.patient(conn, scope=user.scope, practice_slug=task.practice_slug,
                            patient_id=task.subject_id)
    if found is None:
        return _Contact("(name not on file)", {"call": task.consent_call, "text": False,
                                               "email": False,
                                               "do_not_contact": task.do_not_contact})
    row = found
    return _Contact(
        _name(row["first_name"], row["last_name"]),
        {"call": bool(row["consent_call"]), "text": bool(row["consent_text"]),
         "email": bool(row["consent_email"]), "do_not_contact": bool(row["do_not_contact"])},
        phone=row.get("phone"), email=row.get("email"),
        # Only if the export carries it (the contract's phone column does not say).
        phone_type=row.get("phone_type"),
    )


def _treatment(conn: Any, user: CurrentUser, task: Task,
               now: datetime) -> tuple[str | None, str | None, str | None]:
    """The treatment's name (never its price: scripts read it aloud), its case value for the
    coordinator, and when results became visible."""
    if task.treatment_id is None:
        return None, None, None
    row = lookups.treatment(conn, scope=user.scope, practice_slug=task.practice_slug,
                            treatment_id=task.treatment_id)
    if row is None:
        return task.category, None, None
    what = str(row["description"] or row["category"])
    visible = row["results_visible_at"]
    when = None
    if visible is not None:
        when = f"{local(visible, task.practice_tz):%b %d, %Y} ({ago(now - visible)})"
    return what, money_text(row["value"]), when


def _lead_of(conn: Any, session: Session, user: CurrentUser,
             task: Task) -> tuple[str, str | None]:
    """The lead a close_loop task is about: their name and the known outcome."""
    if task.lead_id is None:
        return "your friend", None
    lead = session.get(Lead, (task.practice_slug, task.lead_id))
    row = lookups.lead(conn, scope=user.scope, practice_slug=task.practice_slug,
                       lead_id=task.lead_id) or {}
    first = (lead.first_name if lead else None) or row.get("lead_first_name")
    status = (lead.status if lead else None) or row.get("status")
    return first or "your friend", status


def _referrer(conn: Any, user: CurrentUser, task: Task) -> str:
    if task.referrer_patient_id is None:
        return "A friend"
    row = lookups.patient(conn, scope=user.scope, practice_slug=task.practice_slug,
                          patient_id=task.referrer_patient_id)
    return str(row["first_name"]) if row and row["first_name"] else "A friend"


def _touches(session: Session, task: Task, timezone: str, now: datetime,
             name: str) -> list[dict[str, Any]]:
    """The last touches with this person: when (practice time), how, the outcome, who."""
    rows = session.exec(
        select(Touch)
        .where(Touch.practice_slug == task.practice_slug)
        .where(Touch.subject_type == task.subject_type)
        .where(Touch.subject_id == task.subject_id)
        .order_by(col(Touch.started_at).desc())
        .limit(10)
    ).all()
    people = {u.user_id: u.email for u in session.exec(
        select(User).where(col(User.user_id).in_({t.coordinator_id for t in rows
                                                  if t.coordinator_id is not None})))}
    return [{"when": f"{local(t.started_at, timezone):%a %b %d %H:%M} "
                     f"({ago(now - t.started_at)})",
             "how": CHANNEL_LABELS.get(t.channel, humanise(t.channel)),
             "outcome": outcome_sentence(t.disposition, name) if t.disposition else "—",
             "by": people.get(t.coordinator_id, "automation") if t.coordinator_id else
             "automation",
             "minutes": t.minutes, "notes": t.notes or ""}
            for t in rows]


def _in_sentence(words: str) -> str:
    """A name read mid-sentence: "Non-surgical fat reduction" → "non-surgical fat reduction"
    (an acronym such as "LASIK" keeps its capitals)."""
    words = words.replace("_", " ")
    if len(words) > 1 and words[0].isupper() and words[1].islower():
        return words[0].lower() + words[1:]
    return words


# Mailbox names that are a role, not a person: "coordinator@…" would make the script read
# "this is Coordinator from …".
ROLE_MAILBOXES = frozenset({"admin", "agent", "calls", "contact", "coordinator",
                            "coordinators", "desk", "hello", "info", "manager", "office",
                            "outreach", "staff", "support", "team"})


def speaker(email: str) -> str:
    """The coordinator's first name for the script, from their email ("ana.lee@" → "Ana");
    "(your name)" when the mailbox is not a person's ("coordinator.east@", "info@")."""
    first = email.split("@")[0].split(".")[0]
    if not first.isalpha() or first.lower() in ROLE_MAILBOXES:
        return "(your name)"
    return first.title()


def _window(now: datetime, timezone: str) -> str:
    """When today's calling window closes in the person's zone, and how long that leaves."""
    here = local(now, timezone)
    closes = here.replace(hour=CALL_WINDOW[1].hour, minute=CALL_WINDOW[1].minute, second=0,
                          microsecond=0)
    if here >= closes or here.time() < CALL_WINDOW[0]:
        return f"calling hours are {CALL_WINDOW[0]:%H:%M}-{CALL_WINDOW[1]:%H:%M} there"
    return f"calling window closes at {closes:%H:%M} ({until(closes - here)})"


def _link_channels(session: Session, task: Task, contact: _Contact) -> list[str]:
    """Where a personal referral link may go for an ask or follow-up (consent, not revoked)."""
    if task.kind not in LINK_KINDS or task.subject_type != "patient" \
            or contact.consent.get("do_not_contact"):
        return []
    revoked = revoked_channels(session=session, practice_slug=task.practice_slug,
                               subject_type="patient", subject_id=task.subject_id)
    channels = []
    if contact.consent.get("text") and contact.phone and "text" not in revoked:
        channels.append("sms")
    if contact.consent.get("email") and contact.email and "email" not in revoked:
        channels.append("email")
    return channels


def _thank_you_channel(conn: Any, session: Session, task: Task) -> str | None:
    """The channel a loop-closure thank-you would use (by the referrer's consent), or None."""
    if task.kind != TaskKind.close_loop or task.lead_id is None \
            or task.patient_id is None:
        return None
    referrer = read_referrer(conn, practice_slug=task.practice_slug, patient_id=task.patient_id,
                             lead_id=task.lead_id)
    route = message_channel(session=session, practice_slug=task.practice_slug,
                            patient_id=task.patient_id, referrer=referrer)
    return route[0] if route is not None else None


def dispositions_for(task: Task) -> list[str]:
    """The dispositions that apply to this task, most common first."""
    allowed = LEAD_DISPOSITIONS if task.subject_type == "lead" else PATIENT_DISPOSITIONS
    if task.kind != TaskKind.close_loop:
        allowed = allowed - {Disposition.loop_closed}
    return [d.value for d in DISPOSITION_ORDER if d in allowed]


def task_card(*, session: Session, user: CurrentUser, task_id: int, now: datetime) -> TaskCard:
    """The context card of a task the user holds (a view of patient data: audited)."""
    return retrying(session, lambda: _task_card(session=session, user=user, task_id=task_id,
                                                now=now))


def _task_card(*, session: Session, user: CurrentUser, task_id: int, now: datetime) -> TaskCard:
    from console.scoring.priority import explain

    task = _held(session, user, task_id)
    require_practice(user, task.practice_slug)
    practice = session.get(PracticeSettings, task.practice_slug)
    practice_name = practice.name if practice else task.practice_slug
    timezone = practice.timezone if practice else task.practice_tz
    with snapshot() as conn:
        contact = _person(conn, session, user, task)
        treatment, value, visible = _treatment(conn, user, task, now)
        lead_first, outcome = _lead_of(conn, session, user, task)
        referrer = _referrer(conn, user, task)
        thank_you = _thank_you_channel(conn, session, task)
    why = explain(kind=task.kind, category=task.category, case_value=task.case_value,
                  decay_from=task.decay_from, sla_deadline=task.sla_deadline,
                  attempt=task.attempt, share=Share(factor=1.0, behind_hours=0.0), now=now)
    outreach = session.get(OutreachSettings, task.practice_slug)
    told = outcome_phrase(lead_status=outcome or "",
                          outcome_detail=outreach.outcome_detail if outreach else "none")
    script = SCRIPTS.get(task.kind, "").format(
        first=contact.name.split(" ")[0], me=speaker(user.email),
        practice=practice_name, treatment=_in_sentence(treatment or task.category or "treatment"),
        referrer=referrer, lead=lead_first, outcome=told)
    audit.record(session=session, actor=user.actor, action=Action.view_patient,
                 practice_slug=task.practice_slug, object_ref=f"task:{task.task_id}",
                 outcome=Outcome.success, now=now)
    session.commit()
    here = local(now, timezone)
    city = timezone.split("/")[-1].replace("_", " ")  # "America/New_York" → "New York"
    return TaskCard(
        task_id=task.task_id or 0, claim_version=task.claim_version, kind=task.kind,
        practice_slug=task.practice_slug, practice_name=practice_name,
        practice_local_time=f"{here:%a %H:%M} ({city})",
        practice_timezone=timezone, person_name=contact.name, subject_type=task.subject_type,
        treatment=treatment, results_visible=visible, consent=contact.consent,
        sla=sla_short(task.sla_deadline - now), why=why, script=script,
        dispositions=dispositions_for(task),
        touches=_touches(session, task, timezone, now, contact.name.split(" ")[0]),
        lead_outcome=(humanise(outcome) if task.kind == TaskKind.close_loop and outcome
                      else None),
        thank_you_channel=thank_you,
        phone=contact.phone, phone_text=phone_display(contact.phone),
        phone_link=tel_link(contact.phone),
        phone_label=contact.phone_type or "number on file",
        person_local_time=f"{here:%a %H:%M} ({city})",
        window_closes=_window(now, timezone), case_value=value,
        link_channels=_link_channels(session, task, contact), kind_label=kind_label(task.kind),
    )


def log_outcome(
    *,
    session: Session,
    user: CurrentUser,
    task_id: int,
    claim_version: int,
    disposition: str,
    minutes: float,
    notes: str,
    callback_at: datetime | None,
    lead: LeadInput | None,
    now: datetime,
    send_thank_you: bool = False,
) -> DispositionResult:
    """Log a call outcome on a held task (the disposition service sets the next action and
    audits it); `send_thank_you` queues the written thank-you with a `loop_closed`."""
    def attempt() -> DispositionResult:
        _held(session, user, task_id)
        return log_disposition(
            session=session, user=user, task_id=task_id,
            claim_version=claim_version, disposition=disposition, minutes=minutes, notes=notes,
            callback_at=callback_at, lead=lead, now=now, send_thank_you=send_thank_you)

    return retrying(session, attempt)


def put_back(*, session: Session, user: CurrentUser, task_id: int, claim_version: int,
             now: datetime) -> None:
    """Release a held task to the queue."""
    def attempt() -> None:
        _held(session, user, task_id)
        release(session=session, user=user, task_id=task_id,
                claim_version=claim_version, now=now)

    retrying(session, attempt)


def set_aside(*, session: Session, user: CurrentUser, task_id: int, claim_version: int,
              until: datetime, now: datetime) -> None:
    """Snooze a held task until `until`."""
    def attempt() -> None:
        _held(session, user, task_id)
        snooze(session=session, user=user, task_id=task_id,
               claim_version=claim_version, until=until, now=now)

    retrying(session, attempt)


def send_referral_link(*, session: Session, user: CurrentUser, task_id: int, channel: str,
                       now: datetime) -> bool:
    """Queue the practice's ask message with the patient's personal referral link on a held
    ask or follow-up card, by `channel` ("sms" or "email") if they consented to it.

    It goes through the outbox, whose sending pass applies the contact gate (quiet hours,
    fatigue caps, opt-outs) again before anything leaves. True if queued now, False if this
    card already queued it. Audited as `referral_link_sent` on the task.
    """
    from console.messaging.outbox import NewMessage, enqueue
    from console.messaging.referral_links import referral_code_for, referral_url
    from console.messaging.templates import render_ask

    def attempt() -> bool:
        task = _held(session, user, task_id)
        with snapshot() as conn:
            contact = _person(conn, session, user, task)
        allowed = _link_channels(session, task, contact)
        if channel not in allowed:
            raise UserError("no consent to send a link that way" if allowed else
                            "a referral link cannot be sent to this person (no text or email "
                            "consent)")
        practice = session.get(PracticeSettings, task.practice_slug)
        if practice is None:
            raise UserError("that practice has no settings")
        patient_id = task.patient_id or task.subject_id
        code = referral_code_for(session=session, practice_slug=task.practice_slug,
                                 patient_id=patient_id, now=now)
        begin_write(session)
        rendered = render_ask(session=session, practice=practice, channel=channel,
                              first_name=contact.name.split(" ")[0], link=referral_url(code))
        recipient = contact.phone if channel == "sms" else contact.email
        message = enqueue(session=session, now=now, message=NewMessage(
            idempotency_key=f"link:{task.practice_slug}:{patient_id}:{task.task_id}:{channel}",
            practice_slug=task.practice_slug, subject_type="patient", subject_id=patient_id,
            patient_id=patient_id, treatment_id=task.treatment_id, task_id=task.task_id,
            purpose="referral_link", channel=channel, template=rendered.template,
            recipient=recipient or "", subject=rendered.subject, body=rendered.body))
        audit.record(session=session, actor=user.actor, action=Action.referral_link_sent,
                     practice_slug=task.practice_slug, object_ref=f"task:{task.task_id}",
                     outcome=Outcome.success if message is not None else "already_queued",
                     now=now)
        session.commit()
        return message is not None

    return retrying(session, attempt)


def warm_up() -> None:
    """Load what the first claim and card of a process would load on a coordinator's click:
    the lazily imported modules and the shared snapshot connection (a console server calls
    this once, in the background, when it starts serving)."""
    import console.contact.gate
    import console.messaging.outbox
    import console.messaging.referral_links
    import console.messaging.templates
    import console.scoring.priority  # noqa: F401

    try:
        with snapshot() as conn:
            conn.execute("select 1").fetchall()
    except UserError:
        return  # no snapshot yet: the first card opens it


def created_task(*, session: Session, user: CurrentUser, task_id: int | None) -> Task | None:
    """A task the user may see (e.g. the next action a disposition created), else None."""
    if task_id is None:
        return None
    task = session.get(Task, task_id)
    if task is None or not user.scope.allows(task.practice_slug):
        return None
    return task
