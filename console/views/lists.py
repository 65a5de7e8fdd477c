"""The coordinator's lists: leads and loop closures of their practices (patient data: audited)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from console import audit
from console.access import CurrentUser
from console.audit import Action, Outcome
from console.models.work import Lead, Task
from console.views.data import countdown, records, snapshot

LIST_DAYS = 90
LIST_LIMIT = 200


def _slugs(user: CurrentUser, known: list[str]) -> list[str]:
    return user.scope.restrict(known)


def _practice_names(conn: Any, user: CurrentUser) -> dict[str, str]:
    rows = records(conn, "select practice_slug, name from mart_practices", {})
    return {r["practice_slug"]: r["name"] for r in rows if user.scope.allows(r["practice_slug"])}


def _audit_list(session: Session, user: CurrentUser, what: str, slugs: list[str],
                now: datetime) -> None:
    for slug in slugs:
        audit.record(session=session, actor=user.actor, action=Action.view_patient,
                     practice_slug=slug, object_ref=f"list:{what}", outcome=Outcome.success,
                     now=now)
    session.commit()


def leads_list(*, session: Session, user: CurrentUser, now: datetime) -> list[dict[str, Any]]:
    """Leads of the user's practices referred in the last 90 days, newest first."""
    with snapshot() as conn:
        names = _practice_names(conn, user)
        slugs = sorted(names)
        if not slugs:
            return []
        rows = records(conn, """
            select l.practice_slug, l.lead_id, l.lead_first_name, l.lead_last_name, l.source,
                   l.referred_at, l.status, p.first_name as ref_first, p.last_name as ref_last
            from mart_leads as l
            left join mart_patients as p
                on p.practice_slug = l.practice_slug and p.patient_id = l.referrer_patient_id
            where l.practice_slug in (select unnest(cast($slugs as varchar[])))
                and l.referred_at >= $since
            order by l.referred_at desc, l.lead_id
            limit $limit
            """, {"slugs": slugs, "since": now - timedelta(days=LIST_DAYS), "limit": LIST_LIMIT})
    console_leads = {
        (lead.practice_slug, lead.lead_id): lead
        for lead in session.exec(
            select(Lead).where(col(Lead.practice_slug).in_(slugs))
            .where(col(Lead.referred_at) >= now - timedelta(days=LIST_DAYS))
        ).all()
    }
    out = []
    seen = set()
    for row in rows:
        key = (row["practice_slug"], row["lead_id"])
        seen.add(key)
        lead = console_leads.get(key)
        first = lead.first_name if lead else row["lead_first_name"]
        last = lead.last_name if lead else row["lead_last_name"]
        out.append({
            "practice": names[row["practice_slug"]], "lead": " ".join(filter(None, [first, last])),
            "referred by": " ".join(filter(None, [row["ref_first"], row["ref_last"]])),
            "source": row["source"], "referred": f"{row['referred_at']:%Y-%m-%d}",
            "status": lead.status if lead else row["status"],
        })
    # Leads captured since the last build are not in the snapshot yet.
    fresh = [lead for key, lead in console_leads.items() if key not in seen]
    out = [
        {"practice": names.get(lead.practice_slug, lead.practice_slug),
         "lead": " ".join(filter(None, [lead.first_name, lead.last_name])),
         "referred by": lead.referrer_patient_id or "", "source": lead.source,
         "referred": f"{lead.referred_at:%Y-%m-%d}", "status": lead.status}
        for lead in sorted(fresh, key=lambda item: item.referred_at, reverse=True)
    ] + out
    _audit_list(session, user, "leads", slugs, now)
    return out


def loop_closures(*, session: Session, user: CurrentUser, now: datetime) -> list[dict[str, Any]]:
    """Close-the-loop work of the user's practices: open ones first, then the last 30 days'."""
    with snapshot() as conn:
        names = _practice_names(conn, user)
        slugs = sorted(names)
        if not slugs:
            return []
        tasks = session.exec(
            select(Task).where(Task.kind == "close_loop")
            .where(col(Task.practice_slug).in_(slugs))
            .where((col(Task.closed_at).is_(None))
                   | (col(Task.closed_at) >= now - timedelta(days=30)))
            .order_by(col(Task.sla_deadline)).limit(LIST_LIMIT)
        ).all()
        people = {
            (r["practice_slug"], r["patient_id"]): f"{r['first_name']} {r['last_name']}"
            for r in records(conn, """
                select practice_slug, patient_id, first_name, last_name from mart_patients
                where practice_slug in (select unnest(cast($slugs as varchar[])))
                    and patient_id in (select unnest(cast($ids as varchar[])))
                """, {"slugs": slugs, "ids": sorted({t.subject_id for t in tasks})})
        }
    out = [
        {"task": t.task_id, "practice": names[t.practice_slug],
         "referrer": people.get((t.practice_slug, t.subject_id), t.subject_id),
         "lead": t.lead_id or "", "status": t.status,
         "SLA": countdown(t.sla_deadline, now) if t.closed_at is None
         else ("met" if t.closed_at <= t.sla_deadline else "missed")}
        for t in tasks
    ]
    _audit_list(session, user, "loop_closures", slugs, now)
    return out
