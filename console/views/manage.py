"""The manager's views: SLA board, capacity, client settings, users, data quality and audit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from console import audit, users
from console.access import ADMIN_ROLES, CurrentUser, require_role
from console.audit import Action, Outcome
from console.errors import UserError
from console.models.identity import User, UserPractice
from console.models.practice import PracticeSettings
from console.models.work import Task
from console.views.data import snapshot

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
    """Per client compliance by kind (30 days) and the breached / at-risk tasks behind it."""
    from warehouse.metrics_ops import sla_board

    _manager(user)
    with snapshot() as conn:
        board = sla_board(conn, scope=user.scope, now=now)
    ids = [i for p in board["practices"] for i in p["breached_task_ids"] + p["at_risk_task_ids"]]
    tasks = {
        t.task_id: t
        for t in session.exec(select(Task).where(col(Task.task_id).in_(ids[:2000]))).all()
    }
    names = {p["practice_slug"]: p["name"] for p in board["practices"]}
    flagged = [
        {"practice": names[p["practice_slug"]], "task": i, "state": state,
         "kind": tasks[i].kind if i in tasks else "", "status": tasks[i].status if i in tasks
         else "", "deadline": f"{tasks[i].sla_deadline:%Y-%m-%d %H:%M} UTC" if i in tasks else ""}
        for p in board["practices"]
        for state, key in (("breached", "breached_task_ids"), ("at risk", "at_risk_task_ids"))
        for i in p[key]
        if user.scope.allows(p["practice_slug"])
    ]
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
    return {"feeds": feeds, "paused": paused, "rows": rows}


def audit_rows(*, session: Session, user: CurrentUser, limit: int = 300) -> list[dict[str, Any]]:
    """The newest audit events the user may read."""
    _manager(user)
    return [
        {"seq": e.seq, "when": f"{e.occurred_at:%Y-%m-%d %H:%M:%S}", "actor": e.actor,
         "action": e.action, "practice": e.practice_slug or "", "object": e.object_ref or "",
         "outcome": e.outcome}
        for e in audit.list_events(session=session, scope=user.scope, limit=limit)
    ]
