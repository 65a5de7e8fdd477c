"""Findings 6 and 7: the data home is private whatever the umask, and an unusable home is one
line, not a traceback.

Fail before the fix: under umask 022, loopdesk.db (and its WAL), warehouse/raw.duckdb and
outbox/sms.jsonl were 0644 and the home 0755; a home that cannot be created gave tracebacks.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopdesk_core.home import tighten
from tests.reliability.conftest import Runner


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _open_entries(home: Path) -> list[str]:
    found = []
    for root, folders, files in os.walk(home):
        for name in [root, *(os.path.join(root, entry) for entry in (*folders, *files))]:
            mode = os.lstat(name).st_mode
            if not stat.S_ISLNK(mode) and mode & (stat.S_IRWXG | stat.S_IRWXO):
                found.append(f"{oct(stat.S_IMODE(mode))} {os.path.relpath(name, home)}")
    return found


def test_a_fresh_home_has_no_group_or_other_bits(loopdesk_home: Path, cli: Runner,
                                                 umask_022: None, tmp_path: Path) -> None:
    loopdesk_home.rmdir()  # the CLI creates it, as on a fresh machine
    drop = tmp_path / "drop"
    assert cli("generate", "--practices", "2", "--months", "3", "--seed", "4",
               "--out", str(drop)).code == 0
    assert cli("ingest", str(drop)).code in (0, 1)
    assert cli("build").code == 0
    assert cli("automate").code == 0
    for expected in ("loopdesk.db", "warehouse/raw.duckdb", "secret.key"):
        if expected != "secret.key":
            assert (loopdesk_home / expected).exists(), expected
    assert _open_entries(loopdesk_home) == []


def test_an_old_home_is_tightened_on_the_next_command(loopdesk_home: Path, cli: Runner,
                                                      umask_022: None) -> None:
    os.chmod(loopdesk_home, 0o755)  # noqa: S103 (an old, too-open home)
    (loopdesk_home / "outbox").mkdir()
    os.chmod(loopdesk_home / "outbox", 0o755)  # noqa: S103
    (loopdesk_home / "outbox" / "sms.jsonl").write_text("{}\n")
    os.chmod(loopdesk_home / "outbox" / "sms.jsonl", 0o644)
    assert cli("audit", "verify").code == 0
    assert _open_entries(loopdesk_home) == []


def test_tighten_leaves_symlink_targets_alone(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    os.chmod(outside, 0o644)
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(home, 0o755)  # noqa: S103 (an old, too-open home)
    os.symlink(outside, home / "link")
    assert tighten(home) == 1
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644


UNUSABLE_COMMANDS = [
    ("ingest", "{drop}"), ("metrics", "--json"), ("build",), ("queue", "--as", "a@agency.test"),
    ("claim", "--as", "a@agency.test"),
    ("inbound", "--channel", "sms", "--from", "+13125550142", "--text", "STOP"),
    ("serve", "--port", "1"),
]


@pytest.mark.parametrize("args", UNUSABLE_COMMANDS, ids=lambda args: args[0])
def test_an_unusable_home_is_one_line(args: tuple[str, ...], loopdesk_home: Path, cli: Runner,
                                      monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("LOOPDESK_HOME", str(blocker / "home"))
    drop = tmp_path / "drop"
    drop.mkdir()
    result = cli(*(arg.format(drop=drop) for arg in args))
    assert result.code == 2, result
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert "data folder" in result.err and "Traceback" not in result.err
