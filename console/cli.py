"""The `loopdesk` command: the automation surface of ARCHITECTURE.md."""

from __future__ import annotations

import functools
import gc
import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

from console.commands.output import fail
from console.platform.errors import UserError
from loopdesk_core.home import PRIVATE_UMASK

if TYPE_CHECKING:
    import typer

# Start-up time matters (an SMS webhook runs `loopdesk inbound` per message): `claim`, `log`
# and `inbound` run from console/commands/fast.py without typer when their command line is a
# plain one; everything else builds the typer app. The command modules import typer only
# when they register; SQLAlchemy, pydantic, polars and DuckDB load inside the commands that
# need them (bench/startup.py measures it, tests/reliability/test_startup.py keeps it so).

# One module per area; each registers its own commands on the shared app.
_COMMAND_MODULES = (
    "console.commands.pipeline",
    "console.commands.lifecycle",
    "console.demo.commands",  # the one import of console.demo outside it (tests/test_layout.py)
    "console.commands.work",
    "console.commands.measure",
    "console.commands.access",
    "console.commands.outreach",
    "console.commands.reporting",
    "console.commands.serving",
    "console.commands.simulate",
    "console.commands.operations",
)


@functools.lru_cache(maxsize=1)
def typer_app() -> typer.Typer:
    """The typer app with every command registered (built once, on first use)."""
    import typer

    app = typer.Typer(
        name="loopdesk",
        help="Loopdesk: the referral-programme operations console.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def __getattr__(name: str) -> Any:
    """`console.cli.app`, the typer app (tests drive it with typer's CliRunner)."""
    if name == "app":
        return typer_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _one_line(text: str) -> str:
    """Click's messages may span lines; the error contract is one line."""
    return " ".join(text.split())


def _settings_problem(error: Any) -> str:
    """A bad `LOOPDESK_*` variable, named, in one line (the value itself is not repeated)."""
    problems = [
        f"LOOPDESK_{'_'.join(str(part) for part in item['loc']).upper()}: {item['msg']}"
        for item in error.errors()
    ]
    return "invalid setting " + "; ".join(problems)


def _home() -> str:
    try:
        from loopdesk_core.settings import get_settings

        return str(get_settings().resolved_home)
    except Exception:  # the settings themselves are broken: no home to name
        return "LOOPDESK_HOME"


def _os_problem(error: OSError) -> str:
    """An OS error as one line naming the file and the data folder (never a traceback)."""
    where = f" ({error.filename})" if error.filename else ""
    reason = error.strerror or type(error).__name__
    home = _home()
    if error.filename and str(error.filename).startswith(home):
        return f"cannot write to the data folder {home}: {reason.lower()}{where}"
    return f"{reason.lower()}{where}"


def _known_problem(error: Exception) -> str | None:
    """A one-line message for errors of libraries that may be loaded, else None (a bug).

    The classes are looked up only when their library is already imported: an error cannot
    come from a library that was never loaded, and importing it here would cost start-up time.
    """
    if "loopdesk_core.settings" in sys.modules:
        from loopdesk_core.settings import InsecureSecretError

        if isinstance(error, InsecureSecretError):
            return str(error)
    if "pydantic" in sys.modules:
        from pydantic import ValidationError

        if isinstance(error, ValidationError) and error.title == "Settings":
            return _settings_problem(error)
    if "sqlalchemy" in sys.modules:
        from sqlalchemy.exc import OperationalError

        if isinstance(error, OperationalError):  # e.g. LOOPDESK_DATABASE_URL points at no server
            orig = error.orig
            reason = str(orig).strip().splitlines()[0] if orig else type(error).__name__
            return f"the operational store is unavailable: {reason}"
    if type(error).__module__ == "duckdb" and "IO" in type(error).__name__:
        return f"cannot use the warehouse files under {_home()}: {str(error).splitlines()[0]}"
    return None


def _run_typer() -> Any:
    """Run the typer app on `sys.argv`; click's own exits and usage errors as ours."""
    import typer

    # Typer vendors click; its exceptions are only importable from there.
    from typer._click import exceptions as click_errors

    try:
        # Not standalone: click's usage errors reach us instead of being printed as a panel.
        return typer_app()(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as error:
        # `loopdesk` or `loopdesk users` alone: the help, as before (rich has printed it already).
        if error.format_message().strip():
            error.show()
        raise SystemExit(error.exit_code) from None
    except click_errors.ClickException as error:  # bad or missing option, unknown command
        fail(_one_line(error.format_message()), error.exit_code)
    except typer.Abort:
        fail("aborted", 1)


def _run_fast() -> bool:
    """Run `claim`, `log` or `inbound` without typer if fast.parse reads the command line.

    With the cyclic garbage collector paused: loading SQLAlchemy, pydantic and the tables
    creates a few hundred thousand long-lived objects that the collector would otherwise
    traverse again and again (about 5% of such a call); the command's own garbage is small.
    Collection resumes afterwards (tests call `main` in-process) with what exists then moved
    to the permanent generation (`gc.freeze`), so resuming does not start with one
    collection of the whole heap — nor does the interpreter's last one at exit, which is why
    the store's pooled connections are closed here rather than left to it.
    """
    from console.commands import fast

    parsed = fast.parse(sys.argv[1:])
    if parsed is None:
        return False
    name, values = parsed
    collecting = gc.isenabled()
    gc.disable()
    try:
        fast.COMMANDS[name].run(**values)
    finally:
        store = sys.modules.get("console.platform.db")  # not loaded if the command failed early
        if store is not None:
            store.close_connections()
        if collecting:
            gc.freeze()
            gc.enable()
    return True


def main() -> None:
    """Entry point: run the CLI, turning user mistakes (ours and click's) into one-line errors."""
    os.umask(PRIVATE_UMASK)  # files 0600, folders 0700 under the home, whatever the umask
    result: Any = 0
    try:
        if not _run_fast():
            result = _run_typer()
    except UserError as error:
        fail(_one_line(str(error)))
    except OSError as error:  # an unwritable, read-only or misplaced LOOPDESK_HOME (or drop)
        fail(_one_line(_os_problem(error)))
    except Exception as error:
        message = _known_problem(error)
        if message is None:
            raise
        fail(_one_line(message))
    # Not standalone, click returns the exit code of `--help` and `typer.Exit` instead of exiting.
    raise SystemExit(result if isinstance(result, int) else 0)
