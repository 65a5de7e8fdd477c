"""`loopdesk demo`: demo exports, ingest, build, demo users, the simulated history, serve."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import select

from console.lifecycle.build import build_everything
from console.models.identity import Role, User
from console.models.practice import PracticeSettings
from console.platform.db import session_scope
from loopdesk_core import clock
from loopdesk_core.settings import get_settings

DEMO_PRACTICES = 12
DEMO_SEED = 20261126
DEMO_MONTHS = 24
DEMO_DOMAIN = "demo.loopdesk.test"
StageReporter = Callable[[str], None]


@dataclass(frozen=True)
class DemoLogin:
    """One printed demo login and whose work it sees (`sees`: the practices, in words)."""

    role: str
    email: str
    password: str
    sees: str

    @property
    def what_you_will_see(self) -> str:
        """The role's pages, from the page registry (so the table cannot drift), then whose
        work: "My queue, Leads, Loop closures — the queue of 6 practices"."""
        from console.views.navigation import pages_for_role

        titles = ", ".join(page.title for page in pages_for_role(self.role))
        return f"{titles} — {self.sees}" if self.sees else titles


def _demo_exports(home: Path) -> Path:
    return home / "demo-exports"


def _logins_file(home: Path) -> Path:
    return home / "demo-logins.json"


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds demo passwords)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def create_demo_users(*, now: datetime) -> list[DemoLogin]:
    """Create the demo coordinators, manager and client owners once; return their logins."""
    from console.identity import passwords
    from console.identity.users import add_user

    home = get_settings().resolved_home
    stored = _logins_file(home)
    if stored.exists():
        return [DemoLogin(**row) for row in json.loads(stored.read_text())]
    with session_scope() as session:
        practices = session.exec(
            select(PracticeSettings).order_by(PracticeSettings.practice_slug)
        ).all()
        slugs = [practice.practice_slug for practice in practices]
        half = max(1, len(slugs) // 2)
        plan: list[tuple[str, str, list[str], str]] = [
            (Role.coordinator, f"coordinator@{DEMO_DOMAIN}", slugs,
             f"one queue across all {len(slugs)} practices"),
            (Role.coordinator, f"coordinator.east@{DEMO_DOMAIN}", slugs[:half],
             f"the queue of {len(slugs[:half])} practices"),
            (Role.coordinator, f"coordinator.west@{DEMO_DOMAIN}", slugs[half:],
             f"the queue of {len(slugs[half:])} practices"),
            (Role.manager, f"manager@{DEMO_DOMAIN}", [],
             f"the whole agency ({len(slugs)} practices)"),
        ]
        names = {practice.practice_slug: practice.name for practice in practices}
        plan += [
            (Role.client_owner, f"owner.{slug}@{DEMO_DOMAIN}", [slug],
             f"{names[slug]} only")
            for slug in slugs
        ]
        logins: list[DemoLogin] = []
        for role, email, practice_slugs, sees in plan:
            existing = session.exec(select(User).where(User.email == email)).first()
            if existing is not None:
                continue
            password = passwords.generate_password()
            add_user(
                session=session, email=email, role=role, password=password,
                practice_slugs=practice_slugs, actor="system:demo", now=now,
            )
            logins.append(DemoLogin(role=str(role), email=email, password=password, sees=sees))
    _write_private(stored, json.dumps([login.__dict__ for login in logins], indent=2))
    return logins


@contextmanager
def _stages(console: Console) -> Iterator[StageReporter]:
    """A progress bar over the demo's stages (plain lines when not on a terminal)."""
    stages = ["generate", "ingest", "build", "users", "history"]
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
        console=console, disable=not console.is_terminal,
    )
    task = bar.add_task("setting up the demo", total=len(stages))

    def report(stage: str) -> None:
        bar.update(task, description=stage, advance=1 if stage.startswith("done") else 0)
        if not console.is_terminal:
            console.print(stage)

    with bar:
        yield report


def simulate_demo_history(*, now: datetime) -> bool:
    """Simulate the agency's past work once (demo users first: they are its coordinators)."""
    from console.demo.history import simulate_agency_history
    from warehouse.snapshot import reading_snapshot

    with reading_snapshot() as snapshot, session_scope() as session:
        summary = simulate_agency_history(session=session, snapshot=snapshot, now=now,
                                          seed=DEMO_SEED)
    return not summary.skipped and summary.touches > 0


def prepare_demo(*, console: Console | None = None) -> list[DemoLogin]:
    """Make demo data if absent, ingest, build, create the demo users, simulate history, rebuild."""
    from pipelines.generate import generate_exports
    from pipelines.ingest import ingest

    out = console or Console(stderr=True)
    home = get_settings().resolved_home
    home.mkdir(parents=True, exist_ok=True)
    exports = _demo_exports(home)
    now = clock.now()
    with _stages(out) as report:
        if not (exports / "practices.csv").exists():
            report(f"generating {DEMO_PRACTICES} demo practices over {DEMO_MONTHS} months")
            generate_exports(
                exports, practices=DEMO_PRACTICES, seed=DEMO_SEED, months=DEMO_MONTHS, now=now
            )
        report("done: demo exports")
        report("ingesting the exports (dirty rows go to quarantine)")
        summary = ingest(exports)
        report("done: ingest")
        report("building the warehouse and the work queue")
        built = build_everything(now=now)
        report("done: build")
        report("creating demo users")
        logins = create_demo_users(now=now)
        report("done: users")
        report("simulating the agency's work since each practice's onboarding")
        if simulate_demo_history(now=now):
            built = build_everything(now=now)
        report("done: history")
    counts = summary.to_json()
    out.print(
        f"ingested {counts['rows_in']} rows ({counts['quarantined']} quarantined with a reason); "
        + built.describe()
    )
    return logins


def print_logins(logins: list[DemoLogin], *, url: str, console: Console | None = None) -> None:
    """Print the console URL and the demo logins as a short table."""
    # Emails and passwords must print whole, also when piped or logged (no terminal width).
    out = console or Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title=f"Loopdesk demo: open {url}", show_lines=False)
    for column in ("role", "email", "password"):
        table.add_column(column, no_wrap=True)
    table.add_column("what you will see", overflow="fold")
    owners = [login for login in logins if login.role == Role.client_owner]
    shown = [login for login in logins if login.role != Role.client_owner] + owners[:2]
    for login in shown:
        table.add_row(login.role.replace("_", " "), login.email, login.password,
                      login.what_you_will_see)
    out.print(table)
    if len(owners) > 2:
        out.print(f"… and {len(owners) - 2} more client owners, one per practice.")
    out.print(f"(logins are kept in {_logins_file(get_settings().resolved_home)})")


def run_demo(*, port: int, serve: bool) -> None:
    """`loopdesk demo`: set everything up, print the logins, then serve the console."""
    from console.web.serve import run_server

    logins = prepare_demo()
    print_logins(logins, url=f"http://127.0.0.1:{port}/")
    if serve:
        run_server(host="127.0.0.1", port=port)
