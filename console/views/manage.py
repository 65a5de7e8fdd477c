"""The manager's views: SLA board, capacity, client settings, users, data quality and audit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from console.identity import audit, users
from console.identity.access import ADMIN_ROLES, CurrentUser, current_user, require_role
from console.identity.audit import Action, Outcome
from console.models.identity import User, UserPractice
from console.models.practice import PracticeSettings
from console.models.work import Task, TaskStatus
from console.platform.errors import UserError
from console.platform.snapshot import snapshot
from console.platform.wording import humanise, kind_label, sla_short
from loopdesk_core.business_hours import local
from loopdesk_core.clock import as_utc

CAPACITY_WEEKS = 6
# Client settings a manager may edit from the Clients page (with their types).
EDITABLE_SETTINGS: dict[str, type] = {
    "contracted_hours_per_week": float,
    "business_hours_start": str,
    "business_hours_end": str,
    "ask_sla_days": int,
    "follow_up_sla_business_days": int,
    "lead_sla_business_days": int,
    "close_loop_sla_business_days": int,
    "max_touches_per_day": int,
    "max_touches_per_week": int,
    "share_blurb": str,
    # None clears the fee (unknown: return figures show "—"); recipients are validated below.
    "monthly_fee": float,
    "report_recipients": str,
}
NULLABLE_SETTINGS = frozenset({"monthly_fee"})


def _manager(user: CurrentUser) -> None:
    require_role(user, ADMIN_ROLES)


def sla_board_view(*, session: Session, user: CurrentUser, now: datetime) -> dict[str, Any]:
    """Per client compliance by kind (30 days) and the breached / at-risk open tasks behind it:
    practice and kind by name, time left or overdue with the deadline in practice time, and
    who holds it; cancelled and closed tasks excluded; most overdue first."""
    from warehouse.metrics_ops import sla_board

    _manager(user)
    with snapshot() as conn:
        board = sla_board(conn, scope=user.scope, now=now)
    # The open work is read live from the store (the snapshot's copy of the tasks is only as
    # fresh as the last build): breached, and due within the board's at-risk horizon.
    horizon = now + timedelta(hours=float(board.get("at_risk_hours", 24)))
    query = (select(Task).where(col(Task.status).in_((TaskStatus.open, TaskStatus.claimed)))
             .where(col(Task.sla_deadline) <= horizon))
    if not user.scope.agency_wide:
        query = query.where(col(Task.practice_slug).in_(sorted(user.scope.practice_slugs)))
    tasks = [t for t in session.exec(query.order_by(col(Task.sla_deadline)).limit(2000)).all()
             if user.scope.allows(t.practice_slug)]
    holders = {u.user_id: u.email for u in session.exec(
        select(User).where(col(User.user_id).in_({t.claimed_by for t in tasks
                                                  if t.claimed_by is not None})))}
    practices = {p.practice_slug: p for p in session.exec(select(PracticeSettings))}
    names = {p["practice_slug"]: p["name"] for p in board["practices"]}
    flagged: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = {}
    for task in tasks:
        left = task.sla_deadline - now
        state = "breached" if left <= timedelta(0) else "at risk"
        counts.setdefault(task.practice_slug, {"breached": 0, "at risk": 0})[state] += 1
        practice = practices.get(task.practice_slug)
        zone = practice.timezone if practice else task.practice_tz
        flagged.append({
            "practice": names.get(task.practice_slug) or (practice.name if practice else "—"),
            "task": kind_label(task.kind), "state": state, "time left": sla_short(left),
            "deadline (practice time)": f"{local(task.sla_deadline, zone):%a %b %d %H:%M}",
            "held by": holders.get(task.claimed_by or 0, "—")
            if task.status == TaskStatus.claimed else "nobody (in the queue)",
            "_task_id": task.task_id, "_left": left.total_seconds(),
        })
    for row in board["practices"]:
        row["open_counts"] = counts.get(row["practice_slug"], {"breached": 0, "at risk": 0})
    flagged.sort(key=lambda row: row["_left"])
    return {"board": board, "flagged": flagged}


def capacity_view(*, user: CurrentUser, now: datetime) -> dict[str, Any]:
    """This week's capacity and the last weeks' hours delivered vs. contracted per client."""
    from warehouse.metrics_ops import capacity

    _manager(user)
    weeks = [(now - timedelta(weeks=back)).date() for back in range(CAPACITY_WEEKS - 1, -1, -1)]
    with snapshot() as conn:
        per_week = [capacity(conn, scope=user.scope, week_start=week) for week in weeks]
    history = [
        {"week": week["week_start"], "practice": row["name"], "measure": measure,
         "hours": row[key]}
        for week in per_week
        for row in week["practices"]
        for measure, key in (("delivered", "hours_delivered"),
                             ("contracted", "contracted_hours_per_week"))
    ]
    return {"current": per_week[-1], "history": history}


def clients(*, session: Session, user: CurrentUser) -> list[PracticeSettings]:
    """Every client practice in the user's scope with its settings."""
    _manager(user)
    rows = session.exec(select(PracticeSettings).order_by(col(PracticeSettings.practice_slug)))
    return [p for p in rows.all() if user.scope.allows(p.practice_slug)]


def _fee(value: Any) -> float | None:
    """A fee as typed ("4500", "$4,500.00"); blank is unknown (None); anything else refused."""
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    text = str(value).strip().replace(",", "").removeprefix("$").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise UserError("the monthly fee must be an amount in dollars, e.g. 4500") from None


def update_client(*, session: Session, user: CurrentUser, practice_slug: str,
                  changes: dict[str, Any], now: datetime) -> PracticeSettings:
    """Apply edited settings to one client (validated, audited)."""
    _manager(user)
    practice = session.get(PracticeSettings, practice_slug)
    if practice is None or not user.scope.allows(practice_slug):
        raise UserError("unknown practice")
    for name, value in changes.items():
        kind = EDITABLE_SETTINGS.get(name)
        if kind is None:
            raise UserError(f"{name} cannot be edited here")
        if name == "monthly_fee":
            value = _fee(value)
        if value is None and name in NULLABLE_SETTINGS:
            setattr(practice, name, None)
            continue
        if kind in (int, float) and float(value) < 0:
            raise UserError(f"{name} cannot be negative")
        if name == "report_recipients":
            from console.reporting.delivery import parse_recipients

            value = ", ".join(parse_recipients(str(value)))
        setattr(practice, name, kind(value))
    if practice.max_touches_per_day > 1 or practice.max_touches_per_week > 3:
        raise UserError("contact caps may be lowered, never raised above 1 a day / 3 a week")
    session.add(practice)
    audit.record(session=session, actor=user.actor, action="practice_settings",
                 practice_slug=practice_slug, object_ref=f"practice:{practice_slug}",
                 outcome=Outcome.success, now=now)
    session.commit()
    return practice


def user_rows(*, session: Session, user: CurrentUser) -> list[dict[str, Any]]:
    """Every user with role, practices and whether active."""
    _manager(user)
    assigned: dict[int, list[str]] = {}
    for row in session.exec(select(UserPractice)).all():
        assigned.setdefault(row.user_id, []).append(row.practice_slug)
    return [
        {"id": u.user_id, "email": u.email, "role": u.role,
         "practices": ", ".join(sorted(assigned.get(u.user_id or 0, []))), "active": u.active}
        for u in session.exec(select(User).order_by(col(User.user_id))).all()
    ]


def add_user(*, session: Session, user: CurrentUser, email: str, role: str, password: str,
             practice_slugs: Iterable[str], now: datetime) -> int:
    """Create a user (audited by the users service); their id."""
    _manager(user)
    created = users.add_user(session=session, email=email, role=role, password=password,
                             practice_slugs=practice_slugs, actor=user.actor, now=now)
    return created.user_id or 0


def change_user(*, session: Session, user: CurrentUser, user_id: int, role: str,
                practice_slugs: Iterable[str], now: datetime) -> None:
    """Set a user's role and practices (each change audited by the users service)."""
    _manager(user)
    stored = session.get(User, user_id)
    if stored is None:
        raise UserError("no such user")
    if stored.role != role:
        users.set_role(session=session, user_id=user_id, role=role, actor=user.actor, now=now)
    users.set_practices(session=session, user_id=user_id, practice_slugs=practice_slugs,
                        actor=user.actor, now=now)


def deactivate(*, session: Session, user: CurrentUser, user_id: int, now: datetime) -> None:
    """Switch a user off (their sessions end at once); not yourself."""
    _manager(user)
    if user_id == user.user_id:
        raise UserError("you cannot deactivate yourself")
    users.deactivate_user(session=session, user_id=user_id, actor=user.actor, now=now)


def data_quality_view(*, session: Session, user: CurrentUser, now: datetime) -> dict[str, Any]:
    """Feed status per practice and file, and the quarantined rows with their reasons (audited)."""
    from warehouse.quality import data_quality, quarantine_rows

    _manager(user)
    with snapshot() as conn:
        feeds = data_quality(conn, scope=user.scope)
        rows = quarantine_rows(conn, scope=user.scope, limit=500)
    # Quarantined records may hold patient details: looking at them is audited.
    audit.record(session=session, actor=user.actor, action=Action.view_patient,
                 practice_slug=None, object_ref="quarantine", outcome=Outcome.success, now=now)
    session.commit()
    paused = [f for f in feeds if f["feed_status"] not in (None, "ok")]
    names = {p.practice_slug: p.name for p in session.exec(select(PracticeSettings))}
    return {"feeds": feeds, "paused": paused, "rows": rows,
            "undeliverable": undeliverable_rows(session=session, user=user), "names": names}


CHANNEL_LABELS = {"email": "email", "sms": "text message"}


def undeliverable_rows(*, session: Session, user: CurrentUser) -> list[dict[str, Any]]:
    """Per practice in scope and channel: addresses refused permanently or bounced."""
    from console.messaging.delivery import undeliverable_by_channel

    _manager(user)
    names = {p.practice_slug: p.name for p in clients(session=session, user=user)}
    counts = undeliverable_by_channel(session=session, practice_slugs=sorted(names))
    return [{"practice": names[slug], "channel": CHANNEL_LABELS.get(channel, channel),
             "addresses": count}
            for slug, channel, count in sorted(counts, key=lambda r: (names[r[0]], r[1]))]


def _actor_names(session: Session, actors: Iterable[str]) -> dict[str, str]:
    """Audit actors as people read them: `user:4` → their email; links, the CLI and anonymous
    visitors in words."""
    ids = {int(a.split(":", 1)[1]) for a in actors
           if a.startswith("user:") and a.split(":", 1)[1].isdigit()}
    emails = {f"user:{u.user_id}": u.email for u in session.exec(
        select(User).where(col(User.user_id).in_(ids)))} if ids else {}
    names = {}
    for actor in actors:
        if actor in emails:
            names[actor] = emails[actor]
        elif actor.startswith("report_link:"):
            names[actor] = "a report link"
        elif actor == "cli":
            names[actor] = "command line"
        elif actor == "anonymous":
            names[actor] = "anonymous visitor"
        else:
            names[actor] = actor.replace("_", " ")
    return names


def audit_rows(*, session: Session, user: CurrentUser, limit: int = 300,
               actor_email: str | None = None, action: str | None = None,
               practice_slug: str | None = None, since: datetime | None = None,
               until: datetime | None = None) -> list[dict[str, Any]]:
    """The newest audit events the user may read, filtered by actor (email), action, practice
    and date; actors by email, practices by name, times in UTC (the log's own clock)."""
    _manager(user)
    events = audit.list_events(session=session, scope=user.scope, practice_slug=practice_slug,
                               action=action, since=since, limit=10_000 if actor_email or until
                               else limit)
    if until is not None:
        events = [e for e in events if as_utc(e.occurred_at) < until]
    names = _actor_names(session, {e.actor for e in events}
                         | {ref for e in events for ref in (e.object_ref, e.outcome)
                            if ref and ref.startswith("user:")})
    if actor_email:
        events = [e for e in events if names.get(e.actor) == actor_email]
    practices = {p.practice_slug: p.name for p in session.exec(select(PracticeSettings))}
    return [
        {"seq": e.seq, "when (UTC)": f"{e.occurred_at:%Y-%m-%d %H:%M:%S}",
         "who": _system(names.get(e.actor) or e.actor), "action": humanise(e.action),
         "outcome": names.get(e.outcome) or humanise(e.outcome),
         "practice": practices.get(e.practice_slug or "", "agency") if e.practice_slug
         else "agency", "object": _object(e.object_ref, names, practices)}
        for e in events[:limit]
    ]


def _system(actor: str) -> str:
    """An actor that is not a person, for reading: "system:demo" → "system (demo)"."""
    kind, _, name = actor.partition(":")
    return f"{kind} ({humanise(name)})" if kind == "system" and name else actor


def _object(ref: str | None, people: dict[str, str], practices: dict[str, str]) -> str:
    """An audited object for reading: staff by email, practices by name; patient-data objects
    (tasks, lists, reports) keep their id, as the log never names a patient (SECURITY 21)."""
    if not ref:
        return "—"
    kind, _, ident = ref.partition(":")
    if kind == "user":
        return people.get(ref, "a removed user")
    if kind == "practice":
        return practices.get(ident, "a practice")
    if kind in ("report", "report_link"):
        return f"{humanise(kind)} of {practices[ident]}" if ident in practices else \
            humanise(kind)
    if kind == "list":
        return f"{humanise(ident)} list"
    if kind == "task" and ident.isdigit():
        return f"task #{ident}"
    return humanise(ref)


def audit_filters(*, session: Session, user: CurrentUser) -> dict[str, Any]:
    """What the audit log can be filtered by: actions, practices (slug → name), user emails."""
    _manager(user)
    practices = {p.practice_slug: p.name for p in session.exec(
        select(PracticeSettings).order_by(col(PracticeSettings.name)))
        if user.scope.allows(p.practice_slug)}
    emails = sorted(u.email for u in session.exec(select(User)))
    return {"actions": sorted(a.value for a in Action), "practices": practices,
            "emails": emails}


def audit_csv(*, session: Session, user: CurrentUser, rows: list[dict[str, Any]],
              now: datetime) -> bytes:
    """The filtered audit rows as a neutralised CSV; the export itself is audited."""
    import polars as pl

    from console.reporting.csv_export import export_csv

    _manager(user)
    frame = pl.DataFrame(rows) if rows else pl.DataFrame({"seq": []})
    return export_csv(session=session, actor=user.actor, frame=frame, practice_slug=None,
                      object_ref="audit_log", now=now)


def assignable_coordinators(*, session: Session, user: CurrentUser,
                            practice_name: str) -> dict[int, str]:
    """Active coordinators assigned to the practice named (id → email), for "Assign to…"."""
    _manager(user)
    practice = session.exec(select(PracticeSettings)
                            .where(PracticeSettings.name == practice_name)).first()
    if practice is None:
        return {}
    ids = {row.user_id for row in session.exec(
        select(UserPractice).where(UserPractice.practice_slug == practice.practice_slug))}
    return {u.user_id or 0: u.email for u in session.exec(
        select(User).where(col(User.user_id).in_(ids)).where(User.role == "coordinator")
        .where(col(User.active).is_(True)).order_by(col(User.email)))}


def assign_task(*, session: Session, user: CurrentUser, task_id: int, coordinator_id: int,
                now: datetime) -> str:
    """Lease a breached or at-risk task to a coordinator of its practice: it opens on their
    My queue at their next click (the lease lapses back to the queue if they never take it).
    The claim is audited for the coordinator and the assignment for the manager."""
    from console.platform.db import retrying
    from console.work.claims import claim_task

    _manager(user)
    person = session.get(User, coordinator_id)
    task = session.get(Task, task_id)
    if person is None or not person.active or person.role != "coordinator" or task is None:
        raise UserError("choose an active coordinator of that practice")
    if session.get(UserPractice, (coordinator_id, task.practice_slug)) is None:
        raise UserError(f"{person.email} does not work for that practice")
    coordinator = current_user(session=session, user_id=coordinator_id)
    if coordinator is None:
        raise UserError("choose an active coordinator of that practice")
    retrying(session, lambda: claim_task(session=session, user=coordinator, task_id=task_id,
                                         now=now))

    def note() -> None:
        audit.record(session=session, actor=user.actor, action="assign",
                     practice_slug=task.practice_slug, object_ref=f"task:{task_id}",
                     outcome=f"user:{coordinator_id}", now=now)
        session.commit()

    retrying(session, note)
    return person.email
