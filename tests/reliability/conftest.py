"""The reliability suite: one test per red-team finding (issue 10), through public surfaces."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.cli import main


@dataclass(frozen=True)
class Result:
    """One `loopdesk` run: exit code, stdout, stderr."""

    code: int
    out: str
    err: str


Runner = Callable[..., Result]


@pytest.fixture
def cli(loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Runner:
    """Run `loopdesk ARGS…` in-process through the real entry point (errors included)."""

    def invoke(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["loopdesk", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main()
        captured = capsys.readouterr()
        return Result(int(exit_info.value.code or 0), captured.out, captured.err)

    return invoke
