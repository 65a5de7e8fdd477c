"""CLI commands of operations: `db upgrade`, `backup`, `restore`, `audit verify`."""

from __future__ import annotations

from pathlib import Path

import typer

from console.commands.output import emit_json


def register(app: typer.Typer) -> None:
    """Add the operations commands to the `loopdesk` app."""
    db = typer.Typer(help="The operational store's schema.", no_args_is_help=True)
    app.add_typer(db, name="db")
    audit = typer.Typer(help="The audit log.", no_args_is_help=True)
    app.add_typer(audit, name="audit")

    @db.command("upgrade")
    def db_upgrade(
        as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    ) -> None:
        """Migrate the operational store to the newest schema revision (safe to repeat)."""
        from console.migrations import upgrade
        from console.platform.db import get_engine

        before, after = upgrade(get_engine(), force=True)
        if as_json:
            emit_json({"from_revision": before, "to_revision": after})
        elif before == after:
            typer.echo(f"schema is up to date (revision {after})")
        else:
            typer.echo(f"schema upgraded from revision {before or 'none'} to {after}")

    @app.command("backup")
    def backup_command(
        out: Path = typer.Option(..., "--out", help="a new or empty folder for the backup"),
        as_json: bool = typer.Option(False, "--json", help="print the manifest as JSON"),
    ) -> None:
        """Back up the operational store, the warehouse and the secret (files 0600)."""
        from console.lifecycle.operations import backup
        from loopdesk_core import clock

        manifest = backup(out=out, now=clock.now())
        if as_json:
            emit_json(manifest)
        else:
            typer.echo(f"backed up {', '.join(manifest['files'])} to {out} "
                       f"({manifest['audit_events']} audit events)")

    @app.command("restore")
    def restore_command(
        source: Path = typer.Argument(..., help="a folder written by `loopdesk backup`"),
        as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    ) -> None:
        """Replace the configured store and warehouse with a backup (stop `serve` first)."""
        from console.lifecycle.operations import restore

        result = restore(source=source)
        if as_json:
            emit_json(result)
        else:
            typer.echo(f"restored {', '.join(result['files'])} from {source}; audit chain "
                       f"verified ({result['restored_audit_events']} events)")

    @audit.command("verify")
    def audit_verify(
        as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    ) -> None:
        """Check the audit chain; exit 1 naming the first bad row if it was tampered with."""
        from console.lifecycle.operations import verify_audit
        from console.platform.db import get_engine, init_db

        engine = get_engine()
        init_db(engine)
        check = verify_audit(engine)
        if as_json:
            emit_json(check.to_json())
        elif check.first_bad_seq is None:
            typer.echo(f"audit chain intact: {check.events} events")
        else:
            typer.echo(f"audit chain broken at seq {check.first_bad_seq} "
                       f"({check.events} events)", err=True)
        if check.first_bad_seq is not None:
            raise typer.Exit(1)
