"""CLI commands of the access area: `users …`, `report-link`, `revoke-link`."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import typer

from console.commands.output import emit_json
from console.platform.errors import UserError

if TYPE_CHECKING:
    from sqlmodel import Session

# CLI changes are made by whoever runs commands on the server; the audit log says so.
CLI_ACTOR = "cli"


def _password_from_stdin() -> str | None:
    """The first line of piped stdin, or None on a terminal (we never prompt)."""
    stream = sys.stdin
    if stream is None or stream.isatty():
        return None
    line = stream.readline()
    return line.rstrip("\r\n") or None


def session_scope() -> AbstractContextManager[Session]:
    """A session on the configured store (imported late: keeps `loopdesk --help` fast)."""
    from console.platform.db import session_scope as scope

    return scope()


def register(app: typer.Typer) -> None:
    """Add `users …` and `report-link` to the `loopdesk` app."""
    users = typer.Typer(help="Manage console users.", no_args_is_help=True)
    app.add_typer(users, name="users")

    @users.command("add")
    def users_add(
        email: str = typer.Argument(..., help="the user's login email"),
        role: str = typer.Option(..., "--role", help="coordinator, manager, client_owner, admin"),
        practice: list[str] = typer.Option([], "--practice", help="a practice slug (repeatable)"),
        as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    ) -> None:
        """Add a user; the password is read from piped stdin, else generated and printed once."""
        from console.identity.passwords import generate_password
        from console.identity.users import add_user
        from console.models.practice import PracticeSettings
        from loopdesk_core import clock

        piped = _password_from_stdin()
        password = piped or generate_password()
        with session_scope() as session:
            user = add_user(
                session=session, email=email, role=role, password=password,
                practice_slugs=practice, actor=CLI_ACTOR, now=clock.now(),
            )
            # Users may be set up before the first build, so an unknown slug is only a warning.
            unknown = sorted(
                {slug for slug in practice if session.get(PracticeSettings, slug) is None}
            )
        if unknown:
            sys.stderr.write(f"warning: practice(s) not known yet: {', '.join(unknown)} "
                             "(a typo, or not built yet?)\n")
        generated = None if piped else password
        if as_json:
            emit_json(
                {
                    "user_id": user.user_id,
                    "email": user.email,
                    "role": user.role,
                    "practices": sorted(set(practice)),
                    "generated_password": generated,
                }
            )
            return
        typer.echo(f"added user {user.user_id} ({user.role})")
        if generated is not None:
            typer.echo(f"password (shown once): {generated}")

    @users.command("set-role")
    def users_set_role(
        email: str = typer.Argument(...),
        role: str = typer.Option(..., "--role"),
    ) -> None:
        """Change a user's role (effective on their next request)."""
        from console.identity.users import get_user, set_role
        from loopdesk_core import clock

        with session_scope() as session:
            user = get_user(session=session, email=email)
            assert user.user_id is not None
            set_role(session=session, user_id=user.user_id, role=role, actor=CLI_ACTOR,
                     now=clock.now())
        typer.echo(f"user {user.user_id} is now {role}")

    @users.command("set-practices")
    def users_set_practices(
        email: str = typer.Argument(...),
        practice: list[str] = typer.Option([], "--practice", help="a practice slug (repeatable)"),
    ) -> None:
        """Replace a user's practices (removals take effect on their next request)."""
        from console.identity.users import get_user, set_practices
        from loopdesk_core import clock

        with session_scope() as session:
            user = get_user(session=session, email=email)
            assert user.user_id is not None
            slugs = set_practices(session=session, user_id=user.user_id, practice_slugs=practice,
                                  actor=CLI_ACTOR, now=clock.now())
        typer.echo(f"user {user.user_id} practices: {', '.join(sorted(slugs)) or '(none)'}")

    @users.command("deactivate")
    def users_deactivate(email: str = typer.Argument(...)) -> None:
        """Switch a user off, end their sessions and release the tasks they hold."""
        from console.identity.users import deactivate_user, get_user
        from loopdesk_core import clock

        with session_scope() as session:
            user = get_user(session=session, email=email)
            assert user.user_id is not None
            deactivate_user(session=session, user_id=user.user_id, actor=CLI_ACTOR,
                            now=clock.now())
        typer.echo(f"{user.email} deactivated; their sessions ended and held tasks released")

    @app.command("report-link")
    def report_link(
        practice: str = typer.Option(..., "--practice", help="the practice slug"),
        days: int = typer.Option(30, "--days", help="days until the link expires (1-90)"),
        as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    ) -> None:
        """Print an expiring, revocable read-only report link for one practice."""
        from console.models.practice import PracticeSettings
        from console.reporting.report_links import create_report_link
        from loopdesk_core import clock

        with session_scope() as session:
            if session.get(PracticeSettings, practice) is None:
                raise UserError(f"unknown practice {practice!r} (run `loopdesk build` first?)")
            link = create_report_link(
                session=session, practice_slug=practice, days=days, actor=CLI_ACTOR,
                now=clock.now(),
            )
        if as_json:
            emit_json(
                {
                    "practice_slug": link.practice_slug,
                    "url": link.url,
                    "link_id": link.jti,
                    "expires_at": link.expires_at,
                }
            )
            return
        typer.echo(link.url)
        typer.echo(f"expires {link.expires_at.isoformat()} (link id {link.jti})")

    @app.command("revoke-link")
    def revoke_link(
        link_id: str = typer.Argument(..., help="the link id printed by `report-link`"),
    ) -> None:
        """Make a report link stop working at once (audited)."""
        from console.reporting.report_links import revoke_report_link
        from loopdesk_core import clock

        with session_scope() as session:
            revoke_report_link(session=session, jti=link_id, actor=CLI_ACTOR, now=clock.now())
        typer.echo(f"report link {link_id} revoked")
