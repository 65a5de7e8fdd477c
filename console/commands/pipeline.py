"""CLI commands of the data pipeline: `generate` and `ingest` (build and demo live elsewhere)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from console.commands.output import emit_json
from console.platform.errors import UserError

if TYPE_CHECKING:
    from rich.progress import TaskID


def _generate(
    out: Path, practices: int, seed: int, months: int, dirty_share: float, fmt: str = "canonical"
) -> None:
    from rich.console import Console

    from loopdesk_core.clock import now
    from pipelines.generate import generate_exports

    try:
        summary = generate_exports(
            out,
            practices=practices,
            seed=seed,
            months=months,
            now=now(),
            dirty_share=dirty_share,
            format=fmt,
        )
    except ValueError as error:
        raise UserError(str(error)) from error
    except OSError as error:  # an unwritable or impossible --out folder is the user's to fix
        raise UserError(f"cannot write to {out}: {error.strerror or error}") from error
    Console(stderr=True).print(
        f"wrote {summary.practices} practices, {summary.patients} patients, "
        f"{summary.treatments} treatments, {summary.referrals} referrals "
        f"({summary.dirty_rows} deliberately dirty rows) to {out}"
    )


def _ingest(
    source: Path | None, practice: str | None, as_json: bool, from_opendental: str | None
) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    from pipelines.ingest import SourceError, ingest
    from pipelines.opendental_live import ingest_opendental

    if from_opendental is not None and practice is None:
        raise UserError("--from-opendental needs --practice SLUG (the practice it belongs to)")
    if from_opendental is not None and source is not None:
        raise UserError("give either a drop folder or --from-opendental, not both")
    if from_opendental is None and source is None:
        raise UserError("give a drop folder to ingest (or --from-opendental URL --practice SLUG)")

    stderr = Console(stderr=True)
    show_bar = not as_json and stderr.is_terminal
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        console=stderr,
        disable=not show_bar,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done)

    try:
        with bar:
            if from_opendental is not None and practice is not None:
                summary = ingest_opendental(from_opendental, practice, progress=progress)
            else:
                assert source is not None
                summary = ingest(source, practice=practice, progress=progress)
    except SourceError as error:
        raise UserError(str(error)) from error
    payload = summary.to_json()
    if as_json:
        emit_json(payload)
        return
    out = Console()
    out.print(
        f"rows in {payload['rows_in']}: inserted {payload['inserted']}, "
        f"updated {payload['updated']}, unchanged {payload['unchanged']}, "
        f"quarantined {payload['quarantined']}, filtered {payload['filtered']}"
    )
    for slug, result in summary.practices.items():
        if result.status != "ok" or result.message:
            out.print(f"{slug}: {result.status} - {result.message}", markup=False)
    agency = [f for f in summary.files if not f.practice and f.status != "ok"]
    for file in agency:
        out.print(f"{file.file}: {file.status} - {file.message}", markup=False)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `loopdesk` app."""

    @app.command("generate")
    def generate_command(
        out: Path = typer.Option(..., "--out", help="folder to write the exports into"),
        practices: int = typer.Option(12, "--practices", help="how many practices"),
        seed: int = typer.Option(42, "--seed", help="random seed (same seed, same files)"),
        months: int = typer.Option(24, "--months", help="months of history"),
        dirty_share: float = typer.Option(
            0.01, "--dirty-share", help="share of deliberately bad rows per file (canonical)"
        ),
        fmt: str = typer.Option(
            "canonical", "--format", help="canonical, fhir or opendental (the same world)"
        ),
    ) -> None:
        """Write realistic multi-practice exports (canonical CSV, FHIR Bulk Data or Open Dental)."""
        _generate(out, practices, seed, months, dirty_share, fmt)

    @app.command("ingest")
    def ingest_command(
        source: Path | None = typer.Argument(
            None, help="drop folder: practices.csv + one folder each"
        ),
        practice: str | None = typer.Option(None, "--practice", help="load only this folder"),
        as_json: bool = typer.Option(False, "--json", help="print the JSON summary"),
        from_opendental: str | None = typer.Option(
            None,
            "--from-opendental",
            help="read the practice's Open Dental database (mysql://user@host:3306/db) "
            "instead of a folder; the password comes from LOOPDESK_OPENDENTAL_PASSWORD "
            "when the URL has none",
        ),
    ) -> None:
        """Validate and load a drop of practice exports (or an Open Dental database)."""
        _ingest(source, practice, as_json, from_opendental)
