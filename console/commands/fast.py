"""The per-call commands without typer: `loopdesk claim`, `log` and `inbound`.

An SMS webhook runs `loopdesk inbound` per message and scripts run `claim` / `log` per task,
so these three must start fast; typer (with the pydantic adapters it builds per option and
the rich it formats help with) is a tenth of a second of that. `console/cli.py: main` asks
`parse` first: a command line it reads exactly as typer would is run here, with the same
values; anything else goes to the typer app unchanged — `--help`, a missing, unknown,
repeated or badly typed option, `--`, short options, a flag given a value, a number written
in any but the plain way — so help, usage errors and exit codes stay typer's own. The
options below mirror the typer commands of `console/commands/work.py` and `outreach.py`
(`tests/console/commands/test_fast_cli.py` checks them against the typer app and compares
what both paths pass to the command for generated command lines).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from console.commands import outreach, work

# Numbers only in their plain spelling, which typer's (pydantic's) and Python's readings agree
# on; "+1", "1_000", " 7", "1e3", "007" and the like are left to typer.
_INT = re.compile(r"0|[1-9][0-9]{0,17}")
_FLOAT = re.compile(r"(0|[1-9][0-9]{0,14})(\.[0-9]{1,15})?")


@dataclass(frozen=True)
class Param:
    """One parameter of a command: an option (`flag`) or, with no flag, a positional argument.

    `kind` is str, int or float (one value each) or bool (a flag that takes no value)."""

    name: str
    kind: type
    flag: str | None = None
    required: bool = False
    default: Any = None


@dataclass(frozen=True)
class Command:
    """The function a command runs and its parameters, positional ones in order."""

    run: Callable[..., None]
    params: tuple[Param, ...]


_AS = Param("as_email", str, "--as", required=True)
_JSON = Param("as_json", bool, "--json", default=False)

COMMANDS: dict[str, Command] = {
    "claim": Command(work.claim, (_AS, _JSON)),
    "log": Command(work.log, (
        Param("task_id", int, required=True),
        _AS,
        Param("disposition", str, "--disposition", required=True),
        Param("minutes", float, "--minutes", default=0.0),
        Param("notes", str, "--notes", default=""),
        Param("callback_at", str, "--callback-at"),
        Param("lead_first_name", str, "--lead-first-name"),
        Param("lead_last_name", str, "--lead-last-name"),
        Param("lead_phone", str, "--lead-phone"),
        Param("lead_email", str, "--lead-email"),
        Param("send_thank_you", bool, "--send-thank-you", default=False),
        _JSON,
    )),
    "inbound": Command(outreach.inbound, (
        Param("channel", str, "--channel", required=True),
        Param("sender", str, "--from", required=True),
        Param("text", str, "--text", required=True),
        _JSON,
    )),
}

_UNREAD = object()  # a value the fast path does not read (typer will)


def _value(kind: type, raw: str) -> Any:
    if kind is str:
        return raw
    if kind is int:
        return int(raw) if _INT.fullmatch(raw) else _UNREAD
    if kind is float:
        return float(raw) if _FLOAT.fullmatch(raw) else _UNREAD
    return _UNREAD


def parse(argv: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
    """The command and its values for a command line read exactly as typer would, else None.

    Like click: options and arguments may come in any order, an option's value is the next
    word whatever it looks like (or follows `=`), a word not starting with "-" is an argument.
    """
    if not argv or argv[0] not in COMMANDS:
        return None
    params = COMMANDS[argv[0]].params
    options = {param.flag: param for param in params if param.flag is not None}
    values: dict[str, Any] = {}
    arguments: list[str] = []
    words = list(argv[1:])
    while words:
        word = words.pop(0)
        if not word.startswith("-"):
            arguments.append(word)
            continue
        flag, has_value, inline = word.partition("=")
        param = options.get(flag)
        if param is None or param.name in values:  # --help, --, -x, unknown or repeated
            return None
        if param.kind is bool:
            if has_value:  # `--json=yes`: typer's error
                return None
            values[param.name] = True
            continue
        if not has_value:
            if not words:  # the option's value is missing: typer's error
                return None
            inline = words.pop(0)
        value = _value(param.kind, inline)
        if value is _UNREAD:
            return None
        values[param.name] = value
    positional = [param for param in params if param.flag is None]
    if len(arguments) != len(positional):
        return None
    for param, raw in zip(positional, arguments, strict=True):
        value = _value(param.kind, raw)
        if value is _UNREAD:
            return None
        values[param.name] = value
    for param in params:
        if param.name not in values:
            if param.required:
                return None
            values[param.name] = param.default
    return argv[0], values
