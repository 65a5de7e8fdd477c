"""CLI commands of outreach: `automate` (one outbox pass) and `inbound` (record a reply)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from console.commands.output import emit_json


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
    from console.inbound import snapshot_patient_lookup

    with _snapshot_or_none() as snapshot:
        yield snapshot_patient_lookup(snapshot) if snapshot is not None else None


def register(app: typer.Typer) -> None:
    """Add `automate` and `inbound` to the `loopdesk` app."""

    @app.command("automate")
    def automate_command(
        as_json: bool = typer.Option(False, "--json", help="print JSON counts"),
    ) -> None:
        """One outbox pass: queue due asks, send due messages, create follow-up calls."""
        from console.automation import run_automation
        from console.channels import default_channels
        from console.clock import now
        from console.db import session_scope

        with session_scope() as session, _snapshot_or_none() as snapshot:
            result = run_automation(session=session, snapshot=snapshot,
                                    channels=default_channels(), now=now())
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
        from console.clock import now
        from console.db import session_scope
        from console.inbound import record_inbound

        with session_scope() as session, _patient_lookup() as lookup:
            result = record_inbound(session=session, channel=channel, address=sender,
                                    text=text, now=now(), patient_lookup=lookup)
        if as_json:
            emit_json(result.to_json())
            return
        # No address or name in the output: it may end up in cron logs.
        if result.opt_out:
            typer.echo(f"opt-out recorded for {result.people_matched} person record(s) at "
                       f"{result.practices} practice(s); {result.tasks_cancelled} task(s) and "
                       f"{result.messages_cancelled} message(s) cancelled")
        else:
            typer.echo("reply recorded" + (" (cadence stopped)" if result.replied_message_id
                                           else " (no matching message)"))
