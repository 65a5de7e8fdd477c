"""Fixtures shared by every suite: an isolated data home and a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import console.models.registry  # noqa: F401  (create_all in tests needs every table)
from tests.worlds import FIXED_NOW, TEST_SECRET, point_at_home

__all__ = ["FIXED_NOW", "TEST_SECRET"]


@pytest.fixture
def loopdesk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh LOOPDESK_HOME with the clock pinned to FIXED_NOW and a test secret."""
    home = tmp_path / "home"
    home.mkdir()
    point_at_home(monkeypatch, home)
    yield home
