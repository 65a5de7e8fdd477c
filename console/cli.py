"""The `loopdesk` command: the automation surface of ARCHITECTURE.md."""

from __future__ import annotations

import importlib

import typer
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

# Typer vendors click; its exceptions are only importable from there.
from typer._click import exceptions as click_errors

from console.commands.output import fail
from console.errors import UserError
from console.settings import InsecureSecretError

app = typer.Typer(
    name="loopdesk",
    help="Loopdesk: the referral-programme operations console.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One module per area; each registers its own commands on the shared app.
_COMMAND_MODULES = (
    "console.commands.pipeline",
    "console.commands.lifecycle",
    "console.commands.work",
    "console.commands.measure",
    "console.commands.access",
    "console.commands.outreach",
    "console.commands.serving",
    "console.commands.simulate",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def _one_line(text: str) -> str:
    """Click's messages may span lines; the error contract is one line."""
    return " ".join(text.split())


def _settings_problem(error: ValidationError) -> str:
    """A bad `LOOPDESK_*` variable, named, in one line (the value itself is not repeated)."""
    problems = [
        f"LOOPDESK_{'_'.join(str(part) for part in item['loc']).upper()}: {item['msg']}"
        for item in error.errors()
    ]
    return "invalid setting " + "; ".join(problems)


def main() -> None:
    """Entry point: run the CLI, turning user mistakes (ours and click's) into one-line errors."""
    try:
        # Not standalone: click's usage errors reach us instead of being printed as a panel.
        result = app(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as error:
        # `loopdesk` or `loopdesk users` alone: the help, as before (rich has printed it already).
        if error.format_message().strip():
            error.show()
        raise SystemExit(error.exit_code) from None
    except click_errors.ClickException as error:  # bad or missing option, unknown command
        fail(_one_line(error.format_message()), error.exit_code)
    except typer.Abort:
        fail("aborted", 1)
    except (UserError, InsecureSecretError) as error:
        fail(_one_line(str(error)))
    except ValidationError as error:
        if error.title != "Settings":
            raise
        fail(_one_line(_settings_problem(error)))
    except OperationalError as error:  # e.g. LOOPDESK_DATABASE_URL points at no server
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        fail(_one_line(f"the operational store is unavailable: {reason}"))
    # Not standalone, click returns the exit code of `--help` and `typer.Exit` instead of exiting.
    raise SystemExit(result if isinstance(result, int) else 0)
