"""Ranking keeps the learned hour factors between rankings and re-reads them when they change
(console/work/ranking.py `_hour_factors`: a stamp of the rows, one aggregate read)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, insert, update

import console.work.ranking as ranking
from console.models.learning import LearnedRate
from console.scoring.learned import hour_factors
from tests.factories import learned_hour_rows, session_for, sqlite_engine

_T = LearnedRate.__table__  # type: ignore[attr-defined]


def test_hour_factors_are_cached_while_the_stamp_holds(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []

    def counted(session: object) -> object:
        reads.append(1)
        return hour_factors(session)  # type: ignore[arg-type]

    monkeypatch.setattr(ranking, "hour_factors", counted)
    engine = sqlite_engine(tmp_path)
    with session_for(engine) as session:
        empty = ranking._hour_factors(session)
        assert empty.factors == {} and ranking._hour_factors(session) == empty
        assert len(reads) == 1  # cached: nothing changed
        session.execute(insert(LearnedRate), learned_hour_rows(range(14, 22)))
        session.commit()
        first = ranking._hour_factors(session)
        assert len(reads) == 2 and first == hour_factors(session) and first.factors
        assert ranking._hour_factors(session) is first and len(reads) == 2
        # An in-place change of the evidence alone (estimates untouched) is seen.
        session.execute(update(_T).where(_T.c.measure == "answer_hour", _T.c.band == "15")
                        .values(successes=30))
        session.commit()
        moved = ranking._hour_factors(session)
        assert len(reads) == 3 and moved == hour_factors(session) and moved != first
        session.execute(delete(_T).where(_T.c.measure == "answer_hour", _T.c.band == "9"))
        session.commit()
        fewer = ranking._hour_factors(session)
        assert len(reads) == 4 and fewer == hour_factors(session)
        assert ("patient", 9) in moved.factors and ("patient", 9) not in fewer.factors
    # Another store has its own entry.
    (tmp_path / "other").mkdir()
    other = sqlite_engine(tmp_path / "other")
    with session_for(other) as session:
        assert ranking._hour_factors(session).factors == {} and len(reads) == 5


@pytest.mark.parametrize("count", [3, ranking.FACTS_LISTED + 6])
def test_scoped_rankings_and_facts_bind_any_number_of_practices(tmp_path: Path,
                                                                count: int) -> None:
    """On SQLite a scope's practices are bound one parameter each up to FACTS_LISTED and as
    one expanding list beyond: both read exactly the scope's practices."""
    from console.work.ranking import practice_facts, ranked
    from tests.factories import NOW, add_practice, add_task
    from warehouse.scope import Scope

    engine = sqlite_engine(tmp_path)
    with session_for(engine) as session:
        practices = [add_practice(session, f"p{i:03d}") for i in range(count + 2)]
        tasks = {p.practice_slug: add_task(session, p, case_value=1000.0 + i)
                 for i, p in enumerate(practices)}
        session.commit()
        inside = {p.practice_slug for p in practices[1:-1]}
        scored, facts = ranked(session, scope=Scope.of(inside), now=NOW, callable_only=True,
                               escalated=False, wanted=2 * count)
        assert {s.row.task_id for s in scored} == {tasks[slug].task_id for slug in inside}
        assert [s.row.practice_slug for s in scored] == sorted(inside, reverse=True)
        assert set(facts) == inside == set(practice_facts(session, inside, NOW))
