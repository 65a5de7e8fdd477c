"""CLI commands of outreach: `automate` (one outbox pass), `inbound` (record a reply) and
`inbound-smtp` (receive replies and bounces by SMTP)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from console.commands.output import echo, emit_json

if TYPE_CHECKING:
    import typer


@contextmanager
def _snapshot_or_none() -> Iterator[Any]:
    """The published snapshot, or None before the first build (sending still works)."""
    from warehouse.snapshot import SnapshotMissing, open_snapshot

    try:
        snapshot = open_snapshot()
    except SnapshotMissing:
        yield None
        return
    try:
        yield snapshot
    finally:
        snapshot.close()


@contextmanager
def _patient_lookup() -> Iterator[Any]:
    """Who has an address in the current snapshot: its contact index (no DuckDB import), or
    the snapshot itself when it has none (an older build); None before the first build."""
    from warehouse.contacts import ContactIndex, index_path
    from warehouse.pointer import SnapshotMissing, current_snapshot_path

    try:
        path = current_snapshot_path()
    except SnapshotMissing:
        path = None
    if path is None or not path.exists():
        yield None
        return
    if index_path(path).exists():
        index = ContactIndex(index_path(path))
        try:
            yield index.lookup
        finally:
            index.close()
        return
    from console.outreach.replies import snapshot_patient_lookup

    with _snapshot_or_none() as snapshot:
        yield snapshot_patient_lookup(snapshot) if snapshot is not None else None


def inbound(*, channel: str, sender: str, text: str, as_json: bool = False) -> None:
    """`loopdesk inbound`: record a reply; an opt-out word revokes consent everywhere that
    address is known. A webhook runs it per message: `console/commands/fast.py` calls it
    without typer, the typer command of `register` calls it too."""
    from console.outreach.replies import record_inbound
    from console.platform.db import session_scope
    from loopdesk_core.clock import now

    with session_scope() as session, _patient_lookup() as lookup:
        result = record_inbound(session=session, channel=channel, address=sender, text=text,
                                now=now(), patient_lookup=lookup)
    if as_json:
        emit_json(result.to_json())
        return
    # No address or name in the output: it may end up in cron logs.
    if result.opt_out:
        echo(f"opt-out recorded for {result.people_matched} person record(s) at "
             f"{result.practices} practice(s); {result.tasks_cancelled} task(s) and "
             f"{result.messages_cancelled} message(s) cancelled")
    else:
        echo("reply recorded" + (" (cadence stopped)" if result.replied_message_id
                                 else " (no matching message)"))


def register(app: typer.Typer) -> None:
    """Add `automate`, `inbound` and `inbound-smtp` to the `loopdesk` app."""
    import typer

    @app.command("automate")
    def automate_command(
        as_json: bool = typer.Option(False, "--json", help="print JSON counts"),
    ) -> None:
        """One outbox pass: queue due asks, send due messages, create follow-up calls."""
        from console.identity.audit import seal
        from console.messaging.channels import default_channels
        from console.outreach.automation import run_automation
        from console.platform.db import session_scope
        from loopdesk_core.clock import now

        with session_scope() as session, _snapshot_or_none() as snapshot:
            result = run_automation(session=session, snapshot=snapshot,
                                    channels=default_channels(), now=now())
            seal(session=session)  # the audit events appended since the last seal
        if as_json:
            emit_json(result.to_json())
            return
        typer.echo(" · ".join(f"{name} {value}" for name, value in result.to_json().items()))

    @app.command("inbound")
    def inbound_command(
        channel: str = typer.Option(..., "--channel", help="sms or email"),
        sender: str = typer.Option(..., "--from", help="the address the reply came from"),
        text: str = typer.Option(..., "--text", help="the reply's text"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Record a reply; an opt-out word revokes consent everywhere that address is known."""
        inbound(channel=channel, sender=sender, text=text, as_json=as_json)

    @app.command("inbound-smtp")
    def inbound_smtp_command(
        port: int = typer.Option(2525, "--port", help="port to listen on"),
        host: str = typer.Option("127.0.0.1", "--host", help="address to bind"),
    ) -> None:
        """Receive replies and bounces for reply-token addresses by SMTP until stopped."""
        import logging
        import threading

        from console.outreach.inbound_smtp import default_handler, start_receiver
        from console.platform.db import get_engine, init_db
        from console.platform.errors import UserError
        from loopdesk_core.settings import get_settings

        if not 0 < port < 65536:
            raise UserError("--port must be between 1 and 65535")
        settings = get_settings()
        settings.signing_key()  # refuses a short secret before anything listens
        init_db(get_engine())
        try:
            controller = start_receiver(handler=default_handler(), host=host, port=port)
        except (OSError, RuntimeError) as error:
            raise UserError(f"cannot listen on {host}:{port}: {error}") from error
        # One line per mail, saying what was done with it (never an address or its text).
        log = logging.getLogger("console.outreach.inbound_smtp")
        log.setLevel(logging.INFO)
        log.addHandler(logging.StreamHandler())
        typer.echo(f"receiving replies for *@{settings.inbound_email_domain} on {host}:{port} "
                   "(Ctrl-C stops)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
