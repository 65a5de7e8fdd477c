"""The operational store: SQLite pragmas, UTC timestamps, light migration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from console.models.work import ConsentEvent
from console.platform.db import begin_write, get_engine, init_db, new_session


def test_sqlite_store_uses_wal_and_a_busy_timeout(loopdesk_home: Path) -> None:
    engine = get_engine()
    init_db(engine)
    assert str(engine.url).endswith(str(loopdesk_home / "loopdesk.db"))
    with engine.connect() as connection:
        assert connection.exec_driver_sql("pragma journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("pragma busy_timeout").scalar() == 30000


def test_timestamps_come_back_as_the_same_utc_instant(loopdesk_home: Path) -> None:
    engine = get_engine()
    init_db(engine)
    tokyo = datetime(2026, 11, 27, 9, 30, tzinfo=timezone(timedelta(hours=9)))
    with new_session(engine) as session:
        session.add(ConsentEvent(practice_slug="p", subject_type="patient", subject_id="1",
                                 channel="call", granted=False, source="test", at=tokyo))
        session.commit()
    with new_session(engine) as session:
        stored = session.get(ConsentEvent, 1)
        assert stored is not None and stored.at == tokyo and stored.at.tzinfo == UTC


def test_naive_timestamps_are_refused(loopdesk_home: Path) -> None:
    engine = get_engine()
    init_db(engine)
    with new_session(engine) as session, pytest.raises(Exception, match="timezone-aware"):
        session.add(ConsentEvent(practice_slug="p", subject_type="patient", subject_id="1",
                                 channel="call", granted=False, source="test",
                                 at=datetime(2026, 1, 1)))
        session.commit()


def test_begin_write_takes_the_writer_lock_at_once(loopdesk_home: Path) -> None:
    engine = get_engine()
    init_db(engine)
    with new_session(engine) as holder:
        begin_write(holder)
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("pragma busy_timeout=50")
            with pytest.raises(Exception, match="locked"):
                cursor.execute("begin immediate")
        finally:
            raw.close()
        holder.rollback()

