"""Printing for the CLI: stable JSON on stdout, one-line errors on stderr."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(payload: Any) -> None:
    """Write one JSON document to stdout (the `--json` contract)."""
    sys.stdout.write(json.dumps(payload, default=_default, sort_keys=False) + "\n")


def echo(line: str) -> None:
    """Write one line to stdout, as `typer.echo` does for text (no typer import needed)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error on stderr and exit non-zero."""
    sys.stderr.write(f"error: {message}\n")
    raise SystemExit(code)
