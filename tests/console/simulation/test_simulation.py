"""The agency simulator: world files, the people model, and runs over the real services."""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import console.simulation.policies as policies
from console.platform.errors import UserError
from console.simulation.engine import run_policy
from console.simulation.people import Call, PeopleModel
from console.simulation.world import World, load_world, parse_world

TINY = {
    "seed": 3, "days": 3, "warm_up_days": 1,
    "agency": {"coordinators": 1, "hours_per_day": 3},
    "practices": {"count": 2, "months_of_history": 6},
}


def _within_binomial(hits: int, trials: int, p: float) -> bool:
    """Observed count within 4.5 standard deviations of its expectation."""
    return abs(hits - trials * p) <= 4.5 * math.sqrt(trials * p * (1 - p)) + 1


# --- world files -----------------------------------------------------------------------


def test_missing_keys_take_the_documented_defaults() -> None:
    world = parse_world({})
    assert world.seed == 7 and world.days == 28 and world.warm_up == 14
    assert world.agency.coordinators == 3 and world.agency.hours_per_day == 7
    assert world.agency.agency_timezone == "America/Chicago"
    assert world.practices.count == 12 and world.practices.months_of_history == 12
    assert world.people.answer_rate_by_local_hour == {8: 0.2, 12: 0.35, 17: 0.45, 20: 0.3}
    assert world.people.call_minutes["close_loop"] == 4


@pytest.mark.parametrize(("text", "fragment"), [
    ("colour = 'blue'", "unknown key 'colour'"),
    ("[agency]\nteam = 3", "unknown key 'agency.team'"),
    ("[people]\nlead_book_rate = 1.5", "people.lead_book_rate must be between 0 and 1"),
    ("[people]\nanswer_rate_by_local_hour = { '9' = -0.1 }", "between 0 and 1"),
    ("days = -3", "days must be positive"),
    ("days = 0", "days must be positive"),
    ("[people.call_minutes]\nlunch = 3", "unknown key 'people.call_minutes.lunch'"),
    ("[agency]\nagency_timezone = 'Mars/Olympus'", "is not a time zone"),
    ("days = [", "not valid TOML"),
])
def test_invalid_world_files_are_one_line_user_errors(tmp_path: Path, text: str,
                                                      fragment: str) -> None:
    path = tmp_path / "world.toml"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        load_world(path)
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("text", ["seed = 1\n[people]\nwilling_base = 2\n", "days = -1\n",
                                  "[agency]\ncolour = 1\n"])
def test_the_cli_rejects_a_bad_world_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    text: str,
) -> None:
    from console.cli import main

    path = tmp_path / "world.toml"
    path.write_text(text)
    monkeypatch.setattr(sys, "argv", ["loopdesk", "simulate", "--world", str(path), "--json"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    assert exit_info.value.code == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: world file: ")


def test_the_issue_example_world_parses() -> None:
    path = Path(__file__).resolve().parents[3] / "docs" / "worlds" / "default.toml"
    world = load_world(path)
    assert world.people.by_category == {"implant": 1.2, "whitening": 0.7}
    assert world.people.lead_answer_half_life_hours == 20


# --- the people model ------------------------------------------------------------------


def test_people_answer_and_book_at_the_worlds_rates() -> None:
    """A literal world: answers at 17:00 local and leads' bookings follow its rates."""
    world = parse_world({"people": {
        "answer_rate_by_local_hour": {"8": 0.1, "17": 0.6},
        "answer_decay_per_attempt": 0.5, "lead_book_rate": 0.3,
        "lead_answer_at_zero_hours": 0.8, "lead_answer_half_life_hours": 10,
    }})
    model = PeopleModel(world.people, seed=5)
    at = datetime(2026, 11, 3, 23, 0, tzinfo=UTC)  # 17:00 in Chicago
    trials = 4000

    def calls(kind: str, attempt: int, referred: datetime | None = None) -> list[str]:
        return [model.call(Call(kind=kind, person=f"p{i}", attempt=attempt,
                                practice_tz="America/Chicago", category=None,
                                satisfaction=5.0, lead_referred_at=referred), at).disposition
                for i in range(trials)]

    missed = {"no_answer", "voicemail"}
    first = calls("ask", 1)
    assert _within_binomial(sum(d not in missed for d in first), trials, 0.6)
    second = calls("ask", 2)
    assert _within_binomial(sum(d not in missed for d in second), trials, 0.3)
    # Halfway between 8:00 and 17:00 is linear: 12:30 local → 0.35.
    assert model.p_answer(Call("ask", "x", 1, "America/Chicago", None, None, None),
                          datetime(2026, 11, 3, 18, 30, tzinfo=UTC)) == pytest.approx(0.35)
    leads = calls("contact_lead", 1, referred=datetime(2026, 11, 3, 13, 0, tzinfo=UTC))
    answered = [d for d in leads if d not in missed]
    assert _within_binomial(len(answered), trials, 0.8 * 0.5)  # 10 h late: one half-life
    assert _within_binomial(sum(d == "lead_booked" for d in answered), len(answered), 0.3)


def test_draws_are_common_random_numbers() -> None:
    """The same person asked the same question draws the same number; another seed differs."""
    one, two = PeopleModel(parse_world({}).people, 1), PeopleModel(parse_world({}).people, 2)
    assert one.draw("a", "answer", 1) == one.draw("a", "answer", 1)
    assert one.draw("a", "answer", 1) != two.draw("a", "answer", 1)


# --- runs over the real services -------------------------------------------------------


@pytest.fixture
def sim_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from tests.worlds import point_at_home

    home = tmp_path / "sim"
    home.mkdir()
    point_at_home(monkeypatch, home, now="2026-11-01T00:00:00+00:00")
    return home


def test_the_priority_policy_claims_through_the_real_queue(
    sim_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every call of the priority run was claimed by console.work.claims.claim_next and logged."""
    real = policies.claim_next
    claimed: list[int] = []

    def spy(**kwargs: object) -> object:
        task = real(**kwargs)  # type: ignore[arg-type]
        if task is not None:
            claimed.append(task.task_id or 0)
        return task

    monkeypatch.setattr(policies, "claim_next", spy)
    world = parse_world(TINY | {"warm_up_days": 0, "days": 2})
    diagnostics: dict[str, object] = {}
    result = run_policy(world, "priority", sim_home, diagnostics=diagnostics)
    assert result["calls"] > 0
    phases = diagnostics["cpu_seconds_by_phase"]
    assert isinstance(phases, dict) and {"setup", "claim", "log"} <= set(phases)
    assert "cpu_seconds_by_phase" not in result  # timings vary: never among the figures
    by_source = result["booked_by_source"]
    assert set(by_source) == {"coordinator", "link", "export"}
    assert sum(part["booked_leads"] for part in by_source.values()) == result["booked_leads"]
    assert sum(part["booked_revenue"] for part in by_source.values()) == pytest.approx(
        result["booked_revenue"], abs=0.05)
    # Lead retries stay on their task, so a task may be claimed more than once.
    assert len(claimed) == result["calls"]
    from sqlmodel import Session, col, func, select

    from console.models.identity import AuditEvent
    from console.models.work import Touch
    from console.platform.db import get_engine
    with Session(get_engine()) as session:
        claims = session.exec(select(func.count()).select_from(AuditEvent)
                              .where(col(AuditEvent.action) == "claim")).one()
    assert claims == len(claimed)
    with Session(get_engine()) as session:
        minutes = session.exec(select(func.sum(Touch.minutes))
                               .where(col(Touch.coordinator_id).is_not(None))
                               .where(col(Touch.channel) != "admin")).one()
    assert result["busy_share"] == pytest.approx(
        float(minutes or 0) / 60 / result["coordinator_hours"], abs=1e-4)
    assert 0 < result["busy_share"] <= 1.5


def test_a_stubbed_queue_makes_no_calls(sim_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Swap the queue for a stub that never hands out work: the simulated team calls nobody,
    and spends its day on other work for the practices behind their hours, which counts as
    hours delivered (DOMAIN.md: coordinator minutes logged for the practice)."""
    monkeypatch.setattr(policies, "claim_next", lambda **_: None)
    result = run_policy(parse_world(TINY | {"warm_up_days": 0, "days": 1}), "priority", sim_home)
    assert result["calls"] == 0 and result["booked_leads"] == 0
    assert result["busy_share"] == 0
    rows = result["hours"]
    other = sum(row["other_work_hours"] for row in rows)
    assert other > 0 and all(row["call_hours"] == 0 for row in rows)
    assert sum(row["delivered_hours"] for row in rows) == pytest.approx(other, abs=0.05)
    assert result["other_work_share"] == pytest.approx(other / result["coordinator_hours"],
                                                       abs=0.02)
    assert result["worst_hours_deviation"] == min(row["deviation"] for row in rows)


def _suggestions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[datetime, int, str | None]]:
    """Every "most behind" answer the simulated team got: (when, coordinator, practice)."""
    import console.simulation.engine as engine

    seen: list[tuple[datetime, int, str | None]] = []
    real = engine.most_behind

    def spy(**kwargs: Any) -> Any:
        owed = real(**kwargs)
        seen.append((kwargs["now"], kwargs["user"].user_id,
                     owed.practice_slug if owed is not None else None))
        return owed

    monkeypatch.setattr(engine, "most_behind", spy)
    return seen


def _admin_touches() -> tuple[list[Any], int]:
    """The store's admin touches, and the successful time-entry audit events."""
    from sqlmodel import Session, col, func, select

    from console.models.identity import AuditEvent
    from console.models.work import Touch
    from console.platform.db import get_engine
    with Session(get_engine()) as session:
        touches = list(session.exec(select(Touch).where(col(Touch.channel) == "admin")))
        entries = session.exec(select(func.count()).select_from(AuditEvent)
                               .where(col(AuditEvent.action) == "time_entry")
                               .where(col(AuditEvent.outcome) == "success")).one()
    return touches, int(entries)


def test_idle_priority_coordinators_log_other_work_for_the_suggested_practice(
    sim_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With nothing callable, a coordinator on Loopdesk's console follows My queue: the idle
    minutes until they look again go, through the real `log_time`, to the practice the
    service named most behind its hours at that moment."""
    from console.simulation.engine import IDLE_MINUTES

    seen = _suggestions(monkeypatch)
    result = run_policy(parse_world(TINY | {"warm_up_days": 0, "days": 2}), "priority",
                        sim_home)
    touches, entries = _admin_touches()
    named = {(at, user): slug for at, user, slug in seen if slug is not None}
    assert result["calls"] > 0 and named and touches
    assert entries == len(touches) == len(named)  # each suggestion logged once, audited
    for touch in touches:
        assert named[(touch.started_at, touch.coordinator_id)] == touch.practice_slug
        assert touch.task_id is None and 0 < touch.minutes <= IDLE_MINUTES
    other = {row["practice"]: row for row in result["hours"]}
    assert sum(row["other_work_hours"] for row in other.values()) == pytest.approx(
        sum(t.minutes for t in touches) / 60, abs=0.1)
    for row in other.values():
        assert row["delivered_hours"] == pytest.approx(
            row["call_hours"] + row["other_work_hours"], abs=0.11)


def test_fifo_coordinators_have_no_hours_view_and_log_no_other_work(
    sim_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fifo models a shared inbox worked oldest first: no hours view, so idle time is idle."""
    seen = _suggestions(monkeypatch)
    result = run_policy(parse_world(TINY | {"warm_up_days": 0, "days": 2}), "fifo", sim_home)
    touches, entries = _admin_touches()
    assert result["calls"] > 0
    assert seen == [] and touches == [] and entries == 0
    assert result["other_work_share"] == 0
    assert all(row["other_work_hours"] == 0 for row in result["hours"])


@pytest.mark.slow
def test_the_same_seed_gives_the_same_numbers(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.worlds import point_at_home

    world = parse_world(TINY)
    results = []
    for name in ("a", "b"):
        home = tmp_path / name
        home.mkdir()
        point_at_home(monkeypatch, home, now="2026-11-01T00:00:00+00:00")
        results.append(run_policy(world, "fifo", home))
    assert results[0] == results[1]
    assert results[0]["calls"] > 0


def test_worker_homes_go_to_memory_only_when_it_has_room(monkeypatch: pytest.MonkeyPatch,
                                                         ) -> None:
    from collections import namedtuple

    from console.simulation import runner

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(runner.shutil, "disk_usage", lambda _p: usage(64 << 20, 0, 64 << 20))
    assert runner._scratch() is None  # e.g. a container's 64 MB /dev/shm: the temp folder
    monkeypatch.setattr(runner.shutil, "disk_usage", lambda _p: usage(8 << 30, 0, 8 << 30))
    monkeypatch.setattr(runner.os, "access", lambda _p, _m: True)
    assert runner._scratch() == "/dev/shm"

    def missing(_path: object) -> object:
        raise FileNotFoundError("/dev/shm")
    monkeypatch.setattr(runner.shutil, "disk_usage", missing)
    assert runner._scratch() is None


def test_world_json_round_trips() -> None:
    world = parse_world(TINY | {"people": {"by_category": {"implant": 1.5}}})
    assert parse_world(world.to_json(), internal=True) == world
    assert isinstance(world, World)


@pytest.mark.slow
def test_oracle_beats_the_shipped_constants_where_they_are_badly_wrong() -> None:
    """The constants rank asks by case value and think loops and reviews are worth calls.
    Here the high-value categories never refer, the cheap ones do, and loops and reviews
    take 40 minutes for nothing: with one coordinator for 3 h a day the oracle, which knows,
    finds more friends and books at least as much. Also checks the document's shape."""
    from console.simulation.runner import simulate

    cheap = ["whitening", "injectable", "laser_skin", "cosmetic_dental", "orthodontic"]
    dear = ["implant", "surgical_face", "surgical_body", "body_contouring", "hair_restoration",
            "refractive"]
    # Ten days: with follow-ups of loops and reviews modelled as what they are (not asks),
    # five days left both policies the same two friends.
    world = parse_world({
        "seed": 5, "days": 10, "warm_up_days": 1,
        "agency": {"coordinators": 1, "hours_per_day": 3},
        "practices": {"count": 6, "months_of_history": 6},
        "people": {"repeat_referral_boost_loop_closed": 1.0, "willing_base": 0.5,
                   "by_category": {**dict.fromkeys(cheap, 1.8), **dict.fromkeys(dear, 0.0)},
                   "call_minutes": {"close_loop": 40, "review_request": 40}},
    })
    document = simulate(world, ("priority", "oracle"))
    assert set(document) == {"world", "policies"}
    assert set(document["policies"]) == {"priority", "oracle"}
    prio, oracle = document["policies"]["priority"], document["policies"]["oracle"]
    for figures in (prio, oracle):
        for key in ("leads_per_coordinator_hour", "booked_leads_per_coordinator_hour",
                    "booked_revenue_per_coordinator_hour", "sla_compliance",
                    "lead_contact_within_sla", "loop_closure_rate", "worst_hours_deviation",
                    "calls"):
            assert key in figures
    assert oracle["leads_per_coordinator_hour"] > prio["leads_per_coordinator_hour"]
    assert oracle["booked_revenue_per_coordinator_hour"] >= prio[
        "booked_revenue_per_coordinator_hour"]
    assert prio["ratio_to_oracle"] == pytest.approx(
        prio["booked_revenue_per_coordinator_hour"]
        / oracle["booked_revenue_per_coordinator_hour"], abs=1e-3)
    assert prio["ratio_to_fifo"] is None  # fifo was not run


@pytest.mark.slow
def test_the_staffing_what_if_runs_on_the_agencys_own_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two practices built the normal way; the what-if simulates them in a worker process
    and leaves the agency's own store untouched."""
    from sqlmodel import Session, func, select

    from console.identity.access import CurrentUser
    from console.models.identity import Role
    from console.models.work import Touch
    from console.platform.db import get_engine
    from console.views.simulation import agency_world, staffing_answer
    from tests.worlds import build_generated_world, point_at_home
    from warehouse.scope import Scope

    home = tmp_path / "agency"
    home.mkdir()
    point_at_home(monkeypatch, home, now="2026-11-25T15:00:00+00:00")
    build_generated_world(tmp_path / "drop", practices=2, seed=4, months=6,
                          now=datetime(2026, 11, 25, 15, tzinfo=UTC))
    manager = CurrentUser(user_id=1, email="m@agency.test", role=Role.manager,
                          practice_slugs=frozenset(), scope=Scope.agency())
    with Session(get_engine()) as session:
        world = agency_world(session=session, days=3,
                             now=datetime(2026, 11, 25, 15, tzinfo=UTC))
        assert world.source == "agency" and world.practices.count == 2
        assert manager.role == "manager"
        from console.simulation.runner import run_one

        figures = run_one(world.with_coordinators(1), "priority")
        assert figures["calls"] > 0
        assert {row["practice"] for row in figures["hours"]} and figures["coordinator_hours"] == 7
        assert session.exec(select(func.count()).select_from(Touch)).one() == 0
    assert staffing_answer({1: figures}, days=3, warm_up=2)


def test_the_comparison_orders_lease_in_order_past_the_contact_gate(
    loopdesk_home: Path,
) -> None:
    """fifo offers callable tasks oldest first to the lease, which re-checks the gate: people
    called today or whose call consent was revoked are passed over (here the whole first
    batch of 16 and more), and the first task the gate lets through is the one leased."""
    from datetime import timedelta

    from console.models.work import ConsentEvent, Touch
    from console.platform.db import new_session
    from console.work.claims import CLAIM_BATCH
    from tests.factories import NOW, add_practice, add_task, add_worker, sqlite_engine

    engine = sqlite_engine(loopdesk_home)
    with new_session(engine) as session:
        practice = add_practice(session)
        user = add_worker(session, practices=[practice.practice_slug])
        tasks = [add_task(session, practice, decay_from=NOW - timedelta(days=30 - n))
                 for n in range(CLAIM_BATCH + 4)]
        for n, task in enumerate(tasks[:-2]):  # all but the two newest are gated
            if n % 2:
                session.add(Touch(practice_slug=practice.practice_slug, subject_type="patient",
                                  subject_id=task.subject_id, disposition="no_answer",
                                  channel="call", started_at=NOW - timedelta(hours=1)))
            else:
                session.add(ConsentEvent(practice_slug=practice.practice_slug,
                                         subject_type="patient", subject_id=task.subject_id,
                                         channel="call", granted=False, source="test",
                                         at=NOW - timedelta(days=1)))
        session.commit()
        ids = [task.task_id for task in tasks]
        claimed = [policies.claim(policy="fifo", session=session, user=user, now=NOW)
                   for _ in range(3)]
    assert [task.task_id if task is not None else None for task in claimed] == [
        ids[-2], ids[-1], None]


def test_the_priority_run_does_not_depend_on_wall_clock_timing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same seed, same numbers, however fast the machine: the claim window's wall-clock
    decisions (the back-off after another process's ranking, `time.monotonic`; the wall
    stamps that decide whether a published window may be adopted, `time.time`) are driven to
    both extremes by injected clocks, and the priority run's figures stay the same. The team
    claims one at a time in one thread, so no ranking is made ahead in a thread of its own
    or adopted from another process (whether a claim used such a ranking would depend on
    the machine's load)."""
    import types

    import console.platform.db as db
    import console.work.window as window
    from tests.worlds import point_at_home

    world = parse_world(TINY | {"days": 2})
    results, counts = [], []
    for name, wall in (("fast", 0.0), ("slow", 4e9)):
        clock = types.SimpleNamespace(monotonic=lambda w=wall: w, time=lambda w=wall: w,
                                      sleep=lambda _s: None, perf_counter=lambda w=wall: w)
        monkeypatch.setattr(window, "time", clock)
        monkeypatch.setattr(db, "time", clock)
        home = tmp_path / name
        home.mkdir()
        point_at_home(monkeypatch, home, now="2026-11-01T00:00:00+00:00")
        diagnostics: dict[str, object] = {}
        results.append(run_policy(world, "priority", home, diagnostics=diagnostics))
        counts.append(diagnostics["claim_windows"])
    assert results[0] == results[1]
    assert results[0]["calls"] > 0
    for seen in counts:
        assert isinstance(seen, dict) and seen["rankings"] > 0
        assert seen["ranked_in_thread"] == 0 and seen["adopted"] == 0


def test_leads_due_before_the_teams_next_calling_hour_are_out_of_reach() -> None:
    """A lead seen at the nightly build and due at the next opening, before the team starts,
    is out of reach of any policy; one with a calling hour before its deadline is not."""
    import polars as pl

    from console.simulation.metrics import in_reach

    # The evening world's team: 11:00-18:00 Chicago (17:00-24:00 UTC in November).
    world = parse_world({"days": 2, "agency": {"start_hour": 11, "hours_per_day": 7}})
    shifts = world.calling_shifts()
    assert shifts[0] == (datetime(2026, 11, 2, 17, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
    assert shifts[1][0] == datetime(2026, 11, 3, 17, tzinfo=UTC)
    def utc(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=UTC)

    def reach(opened: list[datetime], due_at: list[datetime]) -> dict[int, bool]:
        due = pl.DataFrame({"task_id": list(range(1, len(opened) + 1)), "created_at": opened,
                            "sla_deadline": due_at},
                           schema={"task_id": pl.Int64, "created_at": pl.Datetime("us", "UTC"),
                                   "sla_deadline": pl.Datetime("us", "UTC")})
        return dict(zip(*in_reach(due, shifts).select("task_id", "in_reach"), strict=True))

    assert reach(
        # 1: opened at the 07:00 build, due at 16:00 (Phoenix's opening), team from 17:00.
        # 2: opened at 07:00, due the next day at 16:00: the first day's shift reaches it.
        # 3: opened and due inside one shift.
        # 4: opened at 23:00, due at the next shift's first instant: 23:00-24:00 is left.
        [utc(2, 7), utc(2, 7), utc(2, 18), utc(2, 23)],
        [utc(2, 16), utc(3, 16), utc(2, 19), utc(3, 17)],
    ) == {1: False, 2: True, 3: True, 4: True}
    # Opened after the shift ended and due at the next one's start: out of reach.
    assert reach([utc(3, 0, 30)], [utc(3, 17)]) == {1: False}
    empty = pl.DataFrame(schema={"task_id": pl.Int64, "created_at": pl.Datetime("us", "UTC"),
                                 "sla_deadline": pl.Datetime("us", "UTC")})
    assert in_reach(empty, shifts).columns[-1] == "in_reach"


def test_policies_sharing_a_world_ingest_each_night_once_with_the_same_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers of one world share the generated exports and each night's ingest
    (engine.SharedNights): the first run ingests and keeps its raw store, a later run copies
    it and ingests nothing, and both give the figures of a run that shares nothing."""
    import pipelines.ingest
    from tests.worlds import point_at_home

    real_ingest = pipelines.ingest.ingest
    ingests: list[Path] = []

    def counted(source: Path, **kwargs: Any) -> Any:
        ingests.append(source)
        return real_ingest(source, **kwargs)

    monkeypatch.setattr(pipelines.ingest, "ingest", counted)
    world = parse_world(TINY | {"days": 2, "warm_up_days": 1})
    shared = tmp_path / "shared"
    shared.mkdir()
    results, counts = [], []
    for name, folder in (("alone", None), ("first", shared), ("second", shared)):
        home = tmp_path / name
        home.mkdir()
        point_at_home(monkeypatch, home, now="2026-11-01T00:00:00+00:00")
        before = len(ingests)
        results.append(run_policy(world, "fifo", home, shared=folder))
        counts.append(len(ingests) - before)
    nights = counts[0]
    assert nights >= 2  # the set-up's night and every working day's after the first
    assert counts == [nights, nights, 0]
    assert results[0] == results[1] == results[2]
    assert results[0]["calls"] > 0
    assert not (tmp_path / "second" / "exports").exists()  # nothing written, nothing ingested
    assert len(list(shared.glob("raw-*.duckdb"))) == nights


def test_the_nightly_builds_make_only_what_the_services_read_with_the_same_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The simulator's builds (`building_only_for(engine.SNAPSHOT_READS)`) materialise the
    marts its services read and the models under them, and skip the other marts, the data
    checks and the contact index: a run with them gives the figures of a run building
    everything (a service reading a skipped table would fail on the missing table)."""
    import duckdb

    import console.simulation.engine as engine
    import warehouse.snapshot as snapshot
    from tests.worlds import point_at_home
    from warehouse.contacts import index_path
    from warehouse.pointer import current_snapshot_path

    checks_run: list[int] = []
    real_checks = snapshot.run_checks

    def counted(conn: Any, checks: Any, **kwargs: Any) -> Any:
        checks_run.append(len(checks))
        return real_checks(conn, checks, **kwargs)

    monkeypatch.setattr(snapshot, "run_checks", counted)
    world = parse_world(TINY | {"days": 2, "warm_up_days": 1})
    results, tables, indexes, checks = [], [], [], []
    for name, reads in (("everything", None), ("slim", engine.SNAPSHOT_READS)):
        monkeypatch.setattr(engine, "SNAPSHOT_READS", reads)
        home = tmp_path / name
        home.mkdir()
        point_at_home(monkeypatch, home, now="2026-11-01T00:00:00+00:00")
        checks_run.clear()
        results.append(run_policy(world, "priority", home))
        path = current_snapshot_path()
        assert path is not None
        with duckdb.connect(str(path), read_only=True) as conn:
            tables.append({row[0] for row in conn.execute(
                "select table_name from information_schema.tables").fetchall()})
        indexes.append(index_path(path).exists())
        checks.append(sum(checks_run))
    assert results[0] == results[1]
    assert results[0]["calls"] > 0
    everything, slim = tables
    assert slim >= engine.SNAPSHOT_READS
    assert {"mart_sla_tasks", "mart_funnel_monthly", "mart_data_quality"} <= everything - slim
    assert slim < everything
    assert indexes == [True, False]
    assert checks[0] > 0 and checks[1] == 0
