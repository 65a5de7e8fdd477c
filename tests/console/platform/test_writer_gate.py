"""SQLite's in-process writer gate (issue 14): threads queue for BEGIN IMMEDIATE on a lock
released however the transaction ends, so no writer waits in SQLite's busy handler."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from console.platform.db import begin_write, get_engine, init_db, new_session, writer_gate_held


def test_the_gate_is_released_however_a_write_transaction_ends(loopdesk_home: Path) -> None:
    engine = get_engine()
    init_db(engine)
    endings = {
        "commit": lambda session: session.commit(),
        "rollback": lambda session: session.rollback(),
        "close": lambda session: session.close(),
    }
    for name, end in endings.items():
        session = new_session(engine)
        begin_write(session)
        assert writer_gate_held(engine), name
        end(session)
        assert not writer_gate_held(engine), name
        session.close()
    session = new_session(engine)
    begin_write(session)
    with pytest.raises(OperationalError):
        session.execute(text("insert into no_such_table values (1)"))
    session.rollback()
    assert not writer_gate_held(engine)
    session.close()


def test_a_second_writer_waits_for_the_first_to_commit(loopdesk_home: Path) -> None:
    engine = get_engine()
    init_db(engine)
    first = new_session(engine)
    begin_write(first)
    order: list[str] = []
    started = threading.Event()

    def second() -> None:
        with new_session(engine) as session:
            started.set()
            begin_write(session)  # queues on the gate until `first` commits
            order.append("second began")
            session.commit()

    thread = threading.Thread(target=second)
    thread.start()
    started.wait()
    first.execute(text("update users set email = email"))
    order.append("first committing")
    first.commit()
    thread.join()
    first.close()
    assert order == ["first committing", "second began"]
    assert not writer_gate_held(engine)
