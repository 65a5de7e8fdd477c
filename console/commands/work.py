"""CLI commands of the work queue: `queue`, `claim` and `log`.

Scripts run `claim` and `log` once per call, so their bodies are the plain functions `claim`
and `log` below and this module imports no typer when it loads: `console/commands/fast.py`
calls them straight from the command line, and the typer commands of `register` (`--help`,
and any command line the fast path leaves to typer) call the same functions.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.commands.output import echo, emit_json
from console.platform.errors import UserError

if TYPE_CHECKING:
    import typer


def task_json(task: Any) -> dict[str, Any]:
    """The `loopdesk claim --json` shape of a claimed task."""
    return {
        "task_id": task.task_id,
        "kind": task.kind,
        "practice_slug": task.practice_slug,
        "subject_type": task.subject_type,
        "patient_id": task.patient_id,
        "lead_id": task.lead_id,
        "treatment_id": task.treatment_id,
        "attempt": task.attempt,
        "due_at": task.due_at,
        "sla_deadline": task.sla_deadline,
        "status": task.status,
        "claim_version": task.claim_version,
        "lease_expires_at": task.lease_expires_at,
    }


def _parse_time(raw: str, timezone: str) -> datetime:
    """An ISO 8601 time; without an offset it is read in the practice's time zone."""
    from loopdesk_core.business_hours import zone

    try:
        value = datetime.fromisoformat(raw)
    except ValueError as error:
        raise UserError(f"--callback-at is not an ISO 8601 time: {raw!r}") from error
    return value if value.tzinfo else value.replace(tzinfo=zone(timezone))


def claim(*, as_email: str, as_json: bool = False) -> None:
    """`loopdesk claim`: claim the next task (a lease) and print it, or null/"nothing"."""
    from console.identity.access import acting_as
    from console.platform.db import session_scope
    from console.work.claims import claim_next
    from loopdesk_core.clock import now

    with session_scope() as session:
        task = claim_next(session=session, user=acting_as(session=session, email=as_email),
                          now=now())
    payload = task_json(task) if task is not None else None
    if as_json:
        emit_json(payload)
    elif payload is None:
        echo("nothing to claim")
    else:
        echo(f"claimed task {payload['task_id']} ({payload['kind']}, "
             f"{payload['practice_slug']}) until {payload['lease_expires_at']}")


def log(*, task_id: int, as_email: str, disposition: str, minutes: float = 0.0,
        notes: str = "", callback_at: str | None = None, lead_first_name: str | None = None,
        lead_last_name: str | None = None, lead_phone: str | None = None,
        lead_email: str | None = None, send_thank_you: bool = False,
        as_json: bool = False) -> None:
    """`loopdesk log`: log a call outcome on a task the user holds (their claim version)."""
    from console.identity.access import acting_as
    from console.platform.db import session_scope
    from console.work.claims import held_claim
    from console.work.dispositions import log_disposition
    from console.work.leads import LeadInput
    from loopdesk_core.clock import now

    with session_scope() as session:
        user = acting_as(session=session, email=as_email)
        task = held_claim(session=session, user=user, task_id=task_id)
        version = task.claim_version
        when = _parse_time(callback_at, task.practice_tz) if callback_at else None
        lead = None
        if any((lead_first_name, lead_last_name, lead_phone, lead_email)):
            lead = LeadInput(first_name=lead_first_name or "", last_name=lead_last_name or "",
                             phone=lead_phone, email=lead_email)
        result = log_disposition(
            session=session, user=user, task_id=task_id, claim_version=version,
            disposition=disposition, minutes=minutes, notes=notes, callback_at=when,
            lead=lead, now=now(), send_thank_you=send_thank_you,
        )
    if as_json:
        emit_json(result.to_json())
        return
    follow = f"; next task {result.next_task_id}" if result.next_task_id else ""
    if result.thank_you_message_id is not None:
        follow += f"; thank-you message {result.thank_you_message_id} queued"
    elif send_thank_you:
        follow += "; no thank-you queued (no email/text consent, or already queued)"
    echo(f"logged {result.disposition} on task {result.task_id}{follow}")


def register(app: typer.Typer) -> None:
    """Add `queue`, `claim` and `log` to the `loopdesk` app."""
    import typer

    @app.command("queue")
    def queue_command(
        as_email: str = typer.Option(..., "--as", help="act as this user (email)"),
        limit: int = typer.Option(50, "--limit", min=1, max=1000, help="how many tasks"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Show the queue exactly as that user would see it, best first."""
        from console.identity.access import acting_as
        from console.platform.db import session_scope
        from console.work.claims import list_queue
        from loopdesk_core.clock import now

        with session_scope() as session:
            entries = list_queue(session=session, user=acting_as(session=session, email=as_email),
                                 now=now(), limit=limit)
        if as_json:
            emit_json([entry.to_json() for entry in entries])
            return
        for entry in entries:
            gate = "callable" if entry.callable_now else f"blocked: {entry.gate_reason}"
            typer.echo(f"{entry.task_id:>8}  {entry.kind:<14} {entry.practice_slug:<20} "
                       f"{entry.priority:>9.3f}  {gate}  ·  {' · '.join(entry.why)}")

    @app.command("claim")
    def claim_command(
        as_email: str = typer.Option(..., "--as", help="act as this user (email)"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Claim the next task (a lease); prints it, or null when nothing is callable."""
        claim(as_email=as_email, as_json=as_json)

    @app.command("log")
    def log_command(
        task_id: int = typer.Argument(..., help="the task you hold"),
        as_email: str = typer.Option(..., "--as", help="act as this user (email)"),
        disposition: str = typer.Option(..., "--disposition", help="the call's outcome"),
        minutes: float = typer.Option(0.0, "--minutes", help="minutes spent"),
        notes: str = typer.Option("", "--notes", help="free-text notes"),
        callback_at: str | None = typer.Option(None, "--callback-at", help="ISO 8601 time"),
        lead_first_name: str | None = typer.Option(None, "--lead-first-name"),
        lead_last_name: str | None = typer.Option(None, "--lead-last-name"),
        lead_phone: str | None = typer.Option(None, "--lead-phone"),
        lead_email: str | None = typer.Option(None, "--lead-email"),
        send_thank_you: bool = typer.Option(
            False, "--send-thank-you",
            help="with loop_closed: also queue the written thank-you to the referrer "
                 "(email, else text, by their consent; sent by `loopdesk automate`)"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Log a call outcome on a task you hold (uses your current claim version)."""
        log(task_id=task_id, as_email=as_email, disposition=disposition, minutes=minutes,
            notes=notes, callback_at=callback_at, lead_first_name=lead_first_name,
            lead_last_name=lead_last_name, lead_phone=lead_phone, lead_email=lead_email,
            send_thank_you=send_thank_you, as_json=as_json)
