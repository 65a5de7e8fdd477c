"""Scheduled delivery of the monthly report: one email per practice-month, exactly once.

`send_monthly_reports` is what `loopdesk reports send` runs from cron. For every active practice
with a recipient it renders the month's PDF and queues one outbox message keyed
`monthly_report:<practice>:<YYYY-MM>`; the outbox's `on conflict do nothing` makes a second or a
concurrent run queue nothing, and its claim makes a message go out at most once. It then runs an
outbox pass over report messages only (patient messages stay with `loopdesk automate`); a failed
send is retried with the outbox's backoff by the next pass of either command.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from console.identity import audit
from console.identity.audit import Outcome
from console.messaging.channels import Attachment, Channels
from console.messaging.outbox import NewMessage, enqueue, send_due
from console.models.identity import Role, User, UserPractice
from console.models.outreach import Message, MessageStatus
from console.models.practice import PracticeSettings
from console.platform.db import begin_write
from console.platform.errors import UserError
from console.reporting.monthly import Month
from console.reporting.pdf import money, multiple, pct, return_line
from warehouse.rules import REFERRAL_RATE_TYPICAL
from warehouse.scope import Scope

PURPOSE = "monthly_report"
ACTOR = "system:reports"
MAX_RECIPIENT_CHARS = 320  # the outbox's recipient column
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


def idempotency_key(practice_slug: str, month: Month) -> str:
    """One report per practice and month."""
    return f"{PURPOSE}:{practice_slug}:{month.key}"


def parse_recipients(text: str | None) -> list[str]:
    """Addresses separated by commas, semicolons or spaces, lower-cased; UserError if one is bad."""
    found = [part.strip().lower() for part in re.split(r"[,;\s]+", text or "") if part.strip()]
    bad = [address for address in found if not _EMAIL.match(address)]
    if bad:
        raise UserError(f"not an email address: {bad[0]!r}")
    unique = list(dict.fromkeys(found))
    if len(", ".join(unique)) > MAX_RECIPIENT_CHARS:
        raise UserError(f"too many report recipients (at most {MAX_RECIPIENT_CHARS} characters)")
    return unique


def recipients_for(session: Session, practice: PracticeSettings) -> list[str]:
    """The practice's active client owners and the extra recipients a manager set."""
    owners = session.exec(
        select(User.email).join(UserPractice, col(UserPractice.user_id) == col(User.user_id))
        .where(UserPractice.practice_slug == practice.practice_slug)
        .where(User.role == Role.client_owner.value).where(col(User.active).is_(True))
    ).all()
    try:
        extra = parse_recipients(practice.report_recipients)
    except UserError:  # stored before validation existed: keep the valid ones
        extra = [a for a in re.split(r"[,;\s]+", practice.report_recipients or "")
                 if _EMAIL.match(a)]
    return list(dict.fromkeys([*sorted(e.lower() for e in owners), *extra]))


def summary_text(report: dict[str, Any]) -> str:
    """The email body: the return line and four figures, then where the rest is (no PHI)."""
    m = report["metrics"]
    month_line, year_line = return_line(report)
    counts = m["counts"]
    lines = [
        f"{report['name']}: your referral programme in {report['month_label']}",
        "",
        month_line,
        year_line,
        "",
        f"Friends referred: {counts['leads']}",
        f"Referred patients booked: {counts['leads_converted_90d']}",
        f"Referral rate: {pct(m['referral_rate'])} "
        f"(typical practices: {REFERRAL_RATE_TYPICAL:.0%})",
        f"Loops closed within SLA: {pct(m['loop_closure_rate'])}",
        "",
        "The attached PDF has the funnel, the referral rate by month, service levels, hours "
        "delivered and the two-year forecast.",
    ]
    if not report["has_data"]:
        lines.insert(2, f"No data was recorded for {report['month_label']}.")
    return "\n".join(lines) + "\n"


def _subject(report: dict[str, Any]) -> str:
    r = report["returns"]
    figure = (f"{money(r['referred_revenue_month'])} referred revenue"
              if r["return_multiple_month"] is None
              else f"{multiple(r['return_multiple_month'])} return")
    return f"{report['name']} — referral report for {report['month_label']}: {figure}"


def last_sent(session: Session) -> dict[str, datetime]:
    """When each practice's last monthly report went out."""
    rows = session.exec(
        select(Message.practice_slug, func.max(Message.sent_at))
        .where(Message.purpose == PURPOSE).where(Message.status == MessageStatus.sent)
        .group_by(col(Message.practice_slug))
    ).all()
    return {slug: sent for slug, sent in rows if sent is not None}


def _queue_one(session: Session, practice: PracticeSettings, month: Month,
               recipients: list[str], now: datetime) -> dict[str, Any]:
    from console.reporting.service import render_month

    row: dict[str, Any] = {"practice_slug": practice.practice_slug, "name": practice.name,
                           "month": month.key, "recipients": len(recipients)}
    key = idempotency_key(practice.practice_slug, month)
    existing = session.exec(select(Message.message_id, Message.status)
                            .where(Message.idempotency_key == key)).first()
    session.commit()  # end the read before the slow render
    if existing is not None:
        return {**row, "status": "already_queued", "message_id": existing[0],
                "message_status": existing[1]}
    try:
        rendered = render_month(session=session, practice_slug=practice.practice_slug,
                                month=month, scope=Scope.of([practice.practice_slug]))
    except UserError:  # known to the store but not (yet) in the published snapshot
        return {**row, "status": "skipped", "reason": "no warehouse data for this practice yet",
                "message_id": None, "message_status": None}
    begin_write(session)
    message = enqueue(session=session, now=now, message=NewMessage(
        idempotency_key=key, practice_slug=practice.practice_slug, subject_type="practice",
        subject_id=practice.practice_slug, purpose=PURPOSE, channel="email",
        template=PURPOSE, recipient=", ".join(recipients), subject=_subject(rendered.report),
        body=summary_text(rendered.report),
        attachments=(Attachment(filename=rendered.filename, content_type="application/pdf",
                                content=rendered.pdf),),
    ))
    if message is None:  # a concurrent run queued it between our check and our insert
        session.rollback()
        return {**row, "status": "already_queued", "message_id": None,
                "message_status": None}
    audit.record(session=session, actor=ACTOR, action="monthly_report_queued",
                 practice_slug=practice.practice_slug, object_ref=f"message:{message.message_id}",
                 outcome=Outcome.success, now=now)
    session.commit()
    return {**row, "status": "queued", "message_id": message.message_id,
            "message_status": MessageStatus.queued.value}


def send_monthly_reports(*, session: Session, channels: Channels, now: datetime,
                         month: Month | None = None) -> dict[str, Any]:
    """Queue each active practice's report for `month` (default: its previous month) and send.

    Every practice is listed: inactive ones and those without a recipient as `skipped` with the
    reason. The JSON shape of `loopdesk reports send --json`.
    """
    from console.platform.snapshot import snapshot

    with snapshot():  # NoData (a one-line user error) before the first build
        pass
    practices = session.exec(select(PracticeSettings)
                             .order_by(col(PracticeSettings.practice_slug))).all()
    rows: list[dict[str, Any]] = []
    for practice in practices:
        chosen = month or Month.previous_in_zone(now, practice.timezone)
        recipients = recipients_for(session, practice)
        reason = None
        if not practice.active:
            reason = "practice inactive"
        elif not recipients:
            reason = "no report recipient"
        elif len(", ".join(recipients)) > MAX_RECIPIENT_CHARS:
            reason = "too many recipients for one email"
        if reason is not None:
            rows.append({"practice_slug": practice.practice_slug, "name": practice.name,
                         "month": chosen.key, "recipients": len(recipients),
                         "status": "skipped", "reason": reason, "message_id": None,
                         "message_status": None})
            continue
        rows.append(_queue_one(session, practice, chosen, recipients, now))
    counts = send_due(session=session, channels=channels, now=now, purposes=(PURPOSE,))
    statuses = {
        message_id: status for message_id, status in session.exec(
            select(Message.message_id, Message.status).where(
                col(Message.message_id).in_([r["message_id"] for r in rows if r["message_id"]])))
    }
    for row in rows:
        if row["message_id"] in statuses:
            row["message_status"] = statuses[row["message_id"]]
    session.commit()
    return {
        "month": month.key if month is not None else None,
        "queued": sum(r["status"] == "queued" for r in rows),
        "already_queued": sum(r["status"] == "already_queued" for r in rows),
        "skipped": sum(r["status"] == "skipped" for r in rows),
        "outbox": {"sent": counts.sent, "retried": counts.retried, "failed": counts.failed,
                   "cancelled": counts.cancelled},
        "practices": rows,
    }
