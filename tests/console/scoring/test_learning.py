"""The queue that learns: priors reproduce today's scores, learned ratios move them, and the
hour factor reorders the queue and shows in "why first"."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import insert

from console.models.identity import Role
from console.models.learning import LearnedRate
from console.scoring.learning import Learned, hour_factors, with_learned
from console.scoring.priority import prior_rows, with_scores
from console.work.claims import claim_next, list_queue
from tests.factories import (
    NOW,
    add_practice,
    add_task,
    add_worker,
    learned_hour_rows,
    session_for,
    sqlite_engine,
)

FRAME = pl.DataFrame({
    "kind": ["ask", "follow_up", "contact_lead", "close_loop", "review_request"],
    "attempt": [1, 2, 3, 1, 1], "subject_type": ["patient"] * 2 + ["lead"] + ["patient"] * 2,
    "satisfaction_score": [9.0, None, None, 4.0, 10.0],
    "category": ["implant", "whitening", None, None, None],
    "case_value": [5000.0] * 5, "lead_conversion": [0.5] * 5, "p_refer_given_asked": [0.3] * 5,
    "expected_minutes": [8.0, 6.0, 6.0, 5.0, 4.0],
    "decay_from": pl.Series([NOW] * 5).dt.cast_time_unit("us"),
})


def _priors() -> pl.DataFrame:
    return pl.DataFrame(prior_rows(), schema=["measure", "cell_group", "band", "prior"],
                        orient="row").with_columns(estimate=pl.col("prior"))


def test_learned_priors_score_exactly_like_the_constants() -> None:
    """With no evidence (estimate = prior everywhere) nothing changes."""
    plain = with_scores(FRAME)
    learned = with_scores(with_learned(FRAME, Learned.from_frame(_priors())))
    assert learned["p_success"].to_list() == pytest.approx(plain["p_success"].to_list())
    assert learned["rank_key"].to_list() == pytest.approx(plain["rank_key"].to_list())
    assert with_scores(with_learned(FRAME, Learned()))["rank_key"].to_list() == pytest.approx(
        plain["rank_key"].to_list())


def test_learned_rates_scale_success_and_value() -> None:
    """Implant asks learned twice as willing, bookings half as likely as the prior."""
    rates = _priors().with_columns(
        estimate=pl.when(pl.col("measure") == "lead_book").then(pl.col("prior") / 2)
        .otherwise(pl.col("estimate")))
    rates = pl.concat([rates, pl.DataFrame(
        [("willing_category", "patient", "implant", 0.51, 1.02)],
        schema=rates.columns, orient="row")])
    plain = with_scores(FRAME)
    learned = with_scores(with_learned(FRAME, Learned.from_frame(rates)))
    assert learned["p_success"][0] == pytest.approx(2 * plain["p_success"][0])
    assert learned["value"][0] == pytest.approx(plain["value"][0] / 2)
    assert learned["value"][4] == pytest.approx(plain["value"][4])  # reviews carry no referral


def test_the_hour_factor_reorders_the_queue_and_says_why(tmp_path: Path) -> None:
    """Two equal asks; the queue learned that New Yorkers answer at 10:00 and Angelenos at
    7:00 far less: New York's task comes first, and its reason cites the learned rate."""
    engine = sqlite_engine(tmp_path)
    with session_for(engine) as session:
        ny = add_practice(session, "smile-ny", timezone="America/New_York")
        la = add_practice(session, "smile-la", timezone="America/Los_Angeles")
        first_la = add_task(session, la)
        add_task(session, ny)
        manager = add_worker(session, role=Role.manager)
        before = list_queue(session=session, user=manager, now=NOW.replace(hour=17))
        assert before[0].task_id == first_la.task_id  # equal priority: the older id wins
        rows = [{"measure": "answer_all", "cell_group": "patient", "band": "all",
                 "successes": 500, "trials": 1000, "prior": 0.5, "estimate": 0.5},
                {"measure": "answer_hour", "cell_group": "patient", "band": "12",
                 "successes": 420, "trials": 600, "prior": 0.5, "estimate": 0.7},
                {"measure": "answer_hour", "cell_group": "patient", "band": "9",
                 "successes": 40, "trials": 200, "prior": 0.5, "estimate": 0.2}]
        session.execute(insert(LearnedRate), rows)
        session.commit()
        factors = hour_factors(session)
        # (420 + 20 × 0.5) / 620 = 0.694, over 0.5 overall; (40 + 10) / 220 = 0.227 → 0.45,
        # clipped at 0.5; an hour nobody was called at stays neutral.
        assert factors.factor("patient", 12) == pytest.approx(0.6935 / 0.5, abs=1e-3)
        assert factors.factor("patient", 9) == pytest.approx(0.5)
        assert factors.factor("patient", 15) == 1.0
        # 17:00 UTC is 12:00 in New York and 09:00 in Los Angeles.
        after = list_queue(session=session, user=manager, now=NOW.replace(hour=17))
        assert after[0].practice_slug == "smile-ny"
        assert "answers 69% at this hour (600 calls)" in after[0].why
        assert "answers 23% at this hour (200 calls)" in after[1].why
        claimed = claim_next(session=session, user=manager, now=NOW.replace(hour=17))
        assert claimed is not None and claimed.practice_slug == "smile-ny"


def test_open_tasks_are_rescored_when_the_learned_rates_move(tmp_path: Path) -> None:
    """Bookings learned at half the prior: an open ask's value and rank key follow."""
    import math

    from console.work.refresh import rescore_open

    engine = sqlite_engine(tmp_path)
    with session_for(engine) as session:
        practice = add_practice(session)
        task = add_task(session, practice)
        value, rank = task.value, task.rank_key
        assert rescore_open(session=session, learned=Learned()) == 0  # nothing learned
        halved = Learned.from_frame(_priors().with_columns(
            estimate=pl.when(pl.col("measure") == "lead_book").then(pl.col("prior") / 2)
            .otherwise(pl.col("estimate"))))
        assert not halved.close_to(Learned())
        assert rescore_open(session=session, learned=halved) == 1
        session.commit()
        session.refresh(task)
        assert task.value == pytest.approx(value / 2)
        assert task.rank_key == pytest.approx(rank + math.log(0.5))


def test_a_patient_call_waits_for_the_hour_people_answer(tmp_path: Path) -> None:
    """At 10:00 New York time (answer 20 %) with the team calling until 22:00 UTC (17:00 in
    New York, answer 50 %) the ask waits and the referred friend is called; at 15:00 New
    York time the ask goes out. A deadline before then, or no team hours learned: no hold."""
    from datetime import timedelta

    from console.scoring.learned import held_zones

    engine = sqlite_engine(tmp_path)
    with session_for(engine) as session:
        ny = add_practice(session, "smile-ny", timezone="America/New_York")
        ask = add_task(session, ny, case_value=50_000.0)
        lead = add_task(session, ny, kind="contact_lead", case_value=100.0)
        user = add_worker(session, practices=["smile-ny"])
        morning, afternoon = NOW, NOW.replace(hour=20)  # 10:00 and 15:00 in New York
        session.execute(insert(LearnedRate), learned_hour_rows(range(14, 22)))
        session.commit()
        hours = hour_factors(session)
        assert hours.team_hours == frozenset(range(14, 22))
        assert held_zones(hours, ["America/New_York"], morning) == ["America/New_York"]
        assert held_zones(hours, ["America/New_York"], afternoon) == []
        # Nothing later is better at 15:00; the team is gone after 22:00 UTC.
        assert hours.better_hour("patient", "America/New_York", afternoon) is None
        first = claim_next(session=session, user=user, now=morning)
        assert first is not None and first.task_id == lead.task_id
        assert claim_next(session=session, user=user, now=morning) is None
        later = claim_next(session=session, user=user, now=afternoon)
        assert later is not None and later.task_id == ask.task_id
        # An ask due before the better hour is not held.
        urgent = add_task(session, ny, sla_deadline=morning + timedelta(hours=3))
        again = claim_next(session=session, user=user, now=morning + timedelta(minutes=5))
        assert again is not None and again.task_id == urgent.task_id
    (tmp_path / "other").mkdir()
    other = sqlite_engine(tmp_path / "other")
    with session_for(other) as session:
        ny = add_practice(session, "smile-ny", timezone="America/New_York")
        ask = add_task(session, ny)
        user = add_worker(session, practices=["smile-ny"])
        session.execute(insert(LearnedRate), learned_hour_rows(range(14, 22), days=2))
        session.commit()
        assert hour_factors(session).team_hours == frozenset()  # too little history
        claimed = claim_next(session=session, user=user, now=NOW)
        assert claimed is not None and claimed.task_id == ask.task_id


def test_learned_rates_are_read_again_only_when_their_stamp_moves(tmp_path: Path) -> None:
    """`Learned.load` keeps the ratios it read while the table's version stamp holds (one
    aggregate read a call), and sees every change: new rows, an estimate moved in place, an
    emptied table."""
    from sqlalchemy import delete, event, update

    engine = sqlite_engine(tmp_path)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda *args: statements.append(str(args[2])))
    with session_for(engine) as session:
        assert Learned.load(session) == Learned()
        book = {"measure": "lead_book", "cell_group": "all", "band": "all",
                "successes": 40, "trials": 100, "prior": 0.5, "estimate": 0.4}
        session.execute(insert(LearnedRate), [book])
        session.commit()
        first = Learned.load(session)
        assert first.book == pytest.approx(0.8)
        statements.clear()
        again = Learned.load(session)
        assert again is first  # the cached ratios, not a second read of the rows
        assert len(statements) == 1 and "learned_rates" in statements[0]
        session.execute(update(LearnedRate).values(estimate=0.25))
        session.commit()
        assert Learned.load(session).book == pytest.approx(0.5)
        session.execute(delete(LearnedRate))
        session.commit()
        assert Learned.load(session) == Learned()
