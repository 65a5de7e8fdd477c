"""CLI commands of the monthly client report: `report-pdf` and `reports send`."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from console.commands.output import emit_json
from console.platform.errors import UserError


def _write_private(path: Path, payload: bytes) -> None:
    """Write the file with mode 0600 (a client's business figures), replacing any old one."""
    try:
        if path.parent and not path.parent.exists():
            raise UserError(f"--out folder {str(path.parent)!r} does not exist")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
        path.chmod(0o600)
    except IsADirectoryError as error:
        raise UserError(f"--out {str(path)!r} is a folder; give a file name") from error
    except PermissionError as error:
        raise UserError(f"cannot write {str(path)!r}: permission denied") from error


def register(app: typer.Typer) -> None:
    """Add `report-pdf` and `reports send` to the `loopdesk` app."""

    @app.command("report-pdf")
    def report_pdf(
        practice: str = typer.Option(..., "--practice", help="the practice's slug"),
        month: str = typer.Option(..., "--month", help="the month, YYYY-MM"),
        out: Path | None = typer.Option(
            None, "--out", help="file to write (default loopdesk-report-SLUG-YYYY-MM.pdf)"),
        as_json: bool = typer.Option(False, "--json", help="print what was written as JSON"),
    ) -> None:
        """Render one practice-month's client report as a PDF (counts, rates and money only)."""
        from console.platform.db import session_scope
        from console.reporting.monthly import Month
        from console.reporting.service import render_month
        from loopdesk_core.clock import now
        from warehouse.scope import Scope

        chosen = Month.parse_past(month, now())
        with session_scope() as session:
            # An operator tool run on the server: it reads agency-wide, like `metrics`.
            rendered = render_month(session=session, practice_slug=practice, month=chosen,
                                    scope=Scope.agency())
        target = out if out is not None else Path(rendered.filename)
        _write_private(target, rendered.pdf)
        if as_json:
            emit_json({"practice_slug": practice, "month": chosen.key, "path": str(target),
                       "bytes": len(rendered.pdf), "has_data": rendered.report["has_data"]})
            return
        typer.echo(f"wrote {target} ({len(rendered.pdf):,} bytes) for "
                   f"{rendered.report['name']}, {chosen.label}")

    reports = typer.Typer(help="The monthly client reports.", no_args_is_help=True)
    app.add_typer(reports, name="reports")

    @reports.command("send")
    def reports_send(
        month: str | None = typer.Option(
            None, "--month",
            help="YYYY-MM (default: the previous month in each practice's time zone)"),
        as_json: bool = typer.Option(False, "--json", help="print the JSON result"),
    ) -> None:
        """Queue and send each active practice's monthly report once (cron-safe, repeatable)."""
        from console.messaging.channels import default_channels
        from console.platform.db import session_scope
        from console.reporting.delivery import send_monthly_reports
        from console.reporting.monthly import Month
        from loopdesk_core.clock import now

        chosen = Month.parse_past(month, now()) if month is not None else None
        with session_scope() as session:
            result = send_monthly_reports(session=session, channels=default_channels(),
                                          now=now(), month=chosen)
        if as_json:
            emit_json(result)
            return
        for row in result["practices"]:
            typer.echo(f"{row['practice_slug']} {row['month']}: {row['status']}"
                       + (f" ({row['reason']})" if row.get("reason") else ""))
        sent = result["outbox"]
        typer.echo(f"queued {result['queued']} · already queued {result['already_queued']} · "
                   f"skipped {result['skipped']} · sent {sent['sent']} · "
                   f"retrying {sent['retried']} · failed {sent['failed']}")
