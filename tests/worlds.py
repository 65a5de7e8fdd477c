"""Test worlds: point the settings at a data home, and build a small generated agency there."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

FIXED_NOW = "2026-11-26T15:00:00+00:00"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def point_at_home(patch: pytest.MonkeyPatch, home: Path, now: str = FIXED_NOW) -> None:
    """Settings for one isolated data home: its folder, a pinned clock and a test secret."""
    patch.setenv("LOOPDESK_HOME", str(home))
    patch.setenv("LOOPDESK_NOW", now)
    patch.setenv("LOOPDESK_SECRET_KEY", TEST_SECRET)
    patch.delenv("LOOPDESK_DATABASE_URL", raising=False)


def build_generated_world(
    drop: Path, *, practices: int, seed: int, months: int, now: datetime,
    dirty_share: float = 0.01,
) -> None:
    """Generate exports into `drop`, ingest them and build (settings must point at a home)."""
    from console.lifecycle.build import build_everything
    from pipelines.generate import generate_exports
    from pipelines.ingest import ingest

    generate_exports(drop, practices=practices, seed=seed, months=months, now=now,
                     dirty_share=dirty_share)
    ingest(drop)
    build_everything(now=now)
