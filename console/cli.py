"""The `loopdesk` command: the automation surface of ARCHITECTURE.md."""

from __future__ import annotations

import importlib

import typer

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
)

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Entry point: run the CLI, turning user mistakes into one-line errors."""
    try:
        app()
    except (UserError, InsecureSecretError) as error:
        fail(str(error))
