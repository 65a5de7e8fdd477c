"""Fixtures shared by every suite: an isolated data home and a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

FIXED_NOW = "2026-11-26T15:00:00+00:00"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture
def loopdesk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh LOOPDESK_HOME with the clock pinned to FIXED_NOW and a test secret."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("LOOPDESK_HOME", str(home))
    monkeypatch.setenv("LOOPDESK_NOW", FIXED_NOW)
    monkeypatch.setenv("LOOPDESK_SECRET_KEY", TEST_SECRET)
    monkeypatch.delenv("LOOPDESK_DATABASE_URL", raising=False)
    yield home
