"""My queue's preview says when calls are held for a better hour (docs/console.md): how many,
and when that hour comes in the person's zone, by the same rule the claim applies."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from console.models.learning import LearnedRate
from console.views.preview import queue_preview
from console.work.claims import claim_next
from tests.factories import (
    NOW,
    add_practice,
    add_task,
    add_worker,
    learned_hour_rows,
    session_for,
    sqlite_engine,
)


def test_the_preview_counts_held_calls_and_when_their_hour_comes(tmp_path: Path) -> None:
    """At 10:00 New York time the asks wait for 14:00 there; the urgent one and the lead do
    not. The preview says how many are held and when, and never offers a held one first."""
    engine = sqlite_engine(tmp_path)
    with session_for(engine) as session:
        ny = add_practice(session, "smile-ny", timezone="America/New_York")
        asks = [add_task(session, ny, case_value=50_000.0) for _ in range(3)]
        user = add_worker(session, practices=["smile-ny"])
        session.execute(insert(LearnedRate), learned_hour_rows(range(14, 22)))
        session.commit()
        preview = queue_preview(session=session, user=user, now=NOW)
        assert claim_next(session=session, user=user, now=NOW) is None  # all three held
        assert preview.next_up is None
        assert preview.held_calls == 3 and len(preview.held) == 1
        held = preview.held[0]
        assert (held.zone_name, held.opens_local, held.opens_in) == ("New York", "14:00",
                                                                     "in 4 h")
        assert held.opens_at == NOW.replace(hour=19) == NOW + timedelta(hours=4)
        assert held.sentence == "the first opens at 14:00 in New York (in 4 h)"
        assert {line.task_id for line in preview.lines} == {t.task_id for t in asks}
        assert all(not line.callable_now and line.when.startswith("held for a better hour")
                   for line in preview.lines)
        # A lead and an ask due before the better hour go out now: not held, not counted.
        lead = add_task(session, ny, kind="contact_lead", case_value=100.0)
        urgent = add_task(session, ny, sla_deadline=NOW + timedelta(hours=3))
        session.commit()
        preview = queue_preview(session=session, user=user, now=NOW)
        assert preview.held_calls == 3
        assert preview.next_up is not None
        assert preview.next_up.task_id in {lead.task_id, urgent.task_id}
        callable_ids = {line.task_id for line in preview.lines if line.callable_now}
        assert callable_ids == {lead.task_id, urgent.task_id}
        # In the better hour nothing is held.
        later = queue_preview(session=session, user=user, now=NOW.replace(hour=20))
        assert later.held == [] and later.held_calls == 0


def test_nothing_is_held_without_learned_hours(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path)
    with session_for(engine) as session:
        ny = add_practice(session, "smile-ny", timezone="America/New_York")
        ask = add_task(session, ny)
        user = add_worker(session, practices=["smile-ny"])
        preview = queue_preview(session=session, user=user, now=NOW)
        assert preview.held == [] and preview.next_up is not None
        assert preview.next_up.task_id == ask.task_id
