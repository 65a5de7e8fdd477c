"""Managers' views of the queue's learning and the staffing what-if (docs/simulation.md).

`learned_view` shows every learned cell with its evidence. The staffing what-if runs the
simulator on the agency's own ingested exports, with the people behaving as the queue has
measured them (`agency_world`) and the practices' real contracted hours, once per team size
1…N. Runs happen in a background thread (one at a time per process, worker processes doing
the work), so the page never blocks: it polls `staffing_job` and shows progress. Jobs are
kept by scope and inputs; the same question asked again reuses the answer.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlmodel import Session, col, select

from console.identity.access import ADMIN_ROLES, CurrentUser, require_role
from console.models.identity import Role, User
from console.models.practice import PracticeSettings
from console.models.work import TaskKind
from console.platform.errors import UserError
from console.scoring.learning import learned_table
from console.simulation.world import DEFAULT_CALL_MINUTES, People, World, parse_world

MEASURES = {
    "answer_attempt": "answers the call (by attempt)",
    "answer_hour": "answers the call (by local hour)",
    "answer_all": "answers the call (any hour)",
    "willing_satisfaction": "willing to refer when reached (by satisfaction)",
    "willing_category": "willing to refer when reached (by treatment)",
    "willing_all": "willing to refer when reached",
    "names_friend": "names a friend when willing",
    "lead_answer_delay": "referred friend answers (by hours since referral)",
    "lead_book": "referred friend books when reached",
    "team_hour": "the team calls in this hour (UTC; evidence = calling days)",
}
MAX_TEAM = 8  # the largest team the what-if offers, at least; more when the team is larger
EXTRA_TEAM = 3  # ... up to the current team and this many more
MAX_DAYS = 20
# One team size's simulation costs about (TEAM_COST_BASE + size) units: the work a team can
# do grows with its size until the backlog runs out (demo agency, 12 clients, 5 days: 41 CPU-s
# with 1 coordinator, 110 with 10, 111 with 13 — docs/benchmarks.md, "console 2026-12-02
# late"), so later, larger team sizes take longer than the first and progress is weighed so.
TEAM_COST_BASE = 4.3
CPU_SECONDS_PER_UNIT = 7.5  # for 12 clients and 5 days, on one core


def _band(measure: str, band: str) -> str:
    if measure == "answer_hour":
        return f"{int(band):02d}:00"
    if measure == "team_hour":
        return f"{int(band):02d}:00 UTC"
    if measure == "answer_attempt":
        return "attempt 3 or later" if band == "3" else f"attempt {band}"
    if measure == "willing_satisfaction":
        return "satisfaction unknown" if band == "unknown" else f"satisfaction {band}"
    if band == "all":
        return "all"
    return band.replace("_", " ")


def learned_view(*, session: Session, user: CurrentUser) -> dict[str, Any]:
    """The learned cells (what, for whom, band, learned vs. prior, evidence) and the hour curve."""
    require_role(user, ADMIN_ROLES)
    table = learned_table(session)
    rows = [
        {"what": MEASURES.get(r["measure"], r["measure"]),
         "for": r["cell_group"].replace("_", " "),
         "band": _band(r["measure"], r["band"]),
         "learned": round(r["estimate"], 3), "prior": round(r["prior"], 3),
         "evidence (calls)": r["trials"]}
        for r in table.sort(["measure", "cell_group", "band"]).iter_rows(named=True)
    ]
    hours = [
        {"hour": int(r["band"]), "who": "patients" if r["cell_group"] == "patient" else "leads",
         "answer rate": round(r["estimate"], 3), "calls": r["trials"]}
        for r in table.filter((pl.col("measure") == "answer_hour") & (pl.col("trials") > 0))
        .iter_rows(named=True)
    ]
    built = table["built_at"].max() if table.height else None
    evidence = int(table.filter(pl.col("measure") == "answer_all")["trials"].sum() or 0)
    return {"rows": rows, "hours": sorted(hours, key=lambda h: (h["who"], h["hour"])),
            "built_at": built, "calls": evidence}


def _estimate(table: pl.DataFrame, measure: str, group: str, band: str) -> float | None:
    part = table.filter((pl.col("measure") == measure) & (pl.col("cell_group") == group)
                        & (pl.col("band") == band))
    return float(part["estimate"][0]) if part.height else None


def _people(table: pl.DataFrame, minutes: dict[str, float]) -> People:
    """The people as the queue has measured them (priors where nothing was measured)."""
    base = People()
    if table.is_empty():
        return base
    hours = {h: _estimate(table, "answer_hour", "patient", str(h)) for h in range(8, 21)}
    first, second = (_estimate(table, "answer_attempt", TaskKind.ask, "1"),
                     _estimate(table, "answer_attempt", TaskKind.ask, "2"))
    willing = _estimate(table, "willing_all", "patient", "all") or base.willing_base
    low = _estimate(table, "willing_satisfaction", "patient", "0-4")
    high = _estimate(table, "willing_satisfaction", "patient", "9-10")
    slope = max(0.0, ((high or willing) - (low or willing)) / 7.5)
    fresh = _estimate(table, "lead_answer_delay", "lead", "0-4h")
    late = _estimate(table, "lead_answer_delay", "lead", "24-72h")
    half_life = base.lead_answer_half_life_hours
    if fresh and late and late < fresh:
        half_life = 46.0 * math.log(2) / math.log(fresh / late)
    categories = table.filter(pl.col("measure") == "willing_category")
    return People(
        answer_rate_by_local_hour={h: r for h, r in hours.items() if r is not None}
        or base.answer_rate_by_local_hour,
        answer_decay_per_attempt=min(1.0, second / first) if first and second else
        base.answer_decay_per_attempt,
        willing_base=min(1.0, willing), willing_per_satisfaction_point=min(1.0, slope),
        names_friend_given_willing=_estimate(table, "names_friend", "patient", "all")
        or base.names_friend_given_willing,
        lead_answer_at_zero_hours=fresh or base.lead_answer_at_zero_hours,
        lead_answer_half_life_hours=max(0.5, half_life),
        lead_book_rate=_estimate(table, "lead_book", "lead", "all") or base.lead_book_rate,
        call_minutes=minutes,
        by_category={c: e / willing for c, e in zip(categories["band"], categories["estimate"],
                                                       strict=True)},
    )


def agency_world(*, session: Session, days: int, now: datetime) -> World:
    """A world made of the agency itself: its exports, measured people and real contracts."""
    from warehouse.paths import raw_db_path

    table = learned_table(session)
    practices = session.exec(select(PracticeSettings)).all()
    # Call lengths: the world defaults (the practices' medians already steer the queue).
    people = _people(table, dict(DEFAULT_CALL_MINUTES))
    raw = raw_db_path()
    if not raw.exists() or not practices:
        raise UserError("no ingested exports yet: run an ingest and a build first")
    start = (now + timedelta(days=1)).date()
    world = parse_world({
        "seed": 1, "days": days, "warm_up_days": min(2, days - 1),
        "start_date": start.isoformat(),
        "practices": {"count": len(practices)},
    })
    return World(seed=world.seed, days=world.days, warm_up_days=world.warm_up_days,
                 start_date=world.start_date, source="agency", raw_store=str(raw),
                 agency=world.agency, practices=world.practices, people=people)


@dataclass
class StaffingJob:
    """One what-if: a simulation per team size, filled in as they finish."""

    key: tuple[Any, ...]
    sizes: list[int]
    started_at: datetime
    fraction: float = 0.0
    message: str = "starting"
    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    done: bool = False


_JOBS: dict[tuple[Any, ...], StaffingJob] = {}
_LOCK = threading.Lock()


def _job_key(user: CurrentUser, sizes: list[int], days: int) -> tuple[Any, ...]:
    scope = "agency" if user.scope.agency_wide else tuple(sorted(user.scope.practice_slugs))
    return (scope, tuple(sizes), days)


def max_team(current: int) -> int:
    """The largest team size the what-if simulates: today's team and a few more (at least 8)."""
    return max(MAX_TEAM, current + EXTRA_TEAM)


def team_weight(size: int) -> float:
    """One team size's share of a what-if's work (relative; see TEAM_COST_BASE)."""
    return TEAM_COST_BASE + size


def expected_cpu_seconds(sizes: list[int], *, days: int, practices: int) -> float:
    """About how many CPU seconds the what-if takes, quiet, on one core (scaled linearly by
    days and clients from the measured 12 clients × 5 days)."""
    units = sum(team_weight(size) for size in sizes)
    return units * CPU_SECONDS_PER_UNIT * (days / 5.0) * (max(1, practices) / 12.0)


def staffing_estimate(session: Session, sizes: list[int], days: int) -> float:
    """About how many seconds the what-if takes on a quiet server, for the agency's clients."""
    practices = len(session.exec(select(PracticeSettings.practice_slug)).all())
    return expected_cpu_seconds(sizes, days=days, practices=practices)


def team_size(session: Session) -> int:
    """Active coordinators today."""
    return len(session.exec(select(User.user_id).where(col(User.role) == Role.coordinator)
                            .where(col(User.active).is_(True))).all())


def staffing_job(*, user: CurrentUser, sizes: list[int], days: int) -> StaffingJob | None:
    """The what-if for these inputs, if one was started (running or finished)."""
    require_role(user, ADMIN_ROLES)
    with _LOCK:
        return _JOBS.get(_job_key(user, sizes, days))


def _run(job: StaffingJob, world: World) -> None:
    from console.simulation.runner import run_one

    total = sum(team_weight(size) for size in job.sizes)
    try:
        done = 0.0
        for size in job.sizes:
            # Weighed by each size's expected cost: a larger team makes more calls, so a
            # pace taken from the small first sizes would promise too early an end.
            def progress(fraction: float, message: str, size: int = size,
                         done: float = done) -> None:
                job.fraction = (done + fraction * team_weight(size)) / total
                job.message = f"{size} coordinator{'s' if size > 1 else ''}: " + message.split(
                    ": ", 1)[-1]
            job.results[size] = run_one(world.with_coordinators(size), "priority", progress)
            done += team_weight(size)
            job.fraction = done / total
        job.fraction, job.message = 1.0, "done"
    except Exception as error:  # the page shows it; the thread must not die silently
        job.error = str(error).splitlines()[0] if str(error) else type(error).__name__
    finally:
        job.done = True


def start_staffing(*, session: Session, user: CurrentUser, sizes: list[int], days: int,
                   now: datetime) -> StaffingJob:
    """Start (or return the running / finished) what-if for these inputs; never blocks."""
    require_role(user, ADMIN_ROLES)
    largest = max_team(team_size(session))
    if not sizes or min(sizes) < 1 or max(sizes) > largest:
        raise UserError(f"team sizes must be between 1 and {largest}")
    if not 1 < days <= MAX_DAYS:
        raise UserError(f"simulate between 2 and {MAX_DAYS} working days")
    key = _job_key(user, sizes, days)
    with _LOCK:
        job = _JOBS.get(key)
        if job is not None and not job.error:
            return job
        world = agency_world(session=session, days=days, now=now)
        job = StaffingJob(key=key, sizes=sizes, started_at=now)
        _JOBS[key] = job
    threading.Thread(target=_run, args=(job, world), daemon=True,
                     name="loopdesk-staffing").start()
    return job


def staffing_rows(job: StaffingJob, days: int, warm_up: int) -> dict[str, list[dict[str, Any]]]:
    """Chart rows: SLA compliance per kind, hours per client and revenue per week, by team."""
    weeks = max(1e-9, (days - warm_up) / 5.0)
    sla, hours, revenue = [], [], []
    for size, figures in sorted(job.results.items()):
        for kind, value in figures["sla_compliance"].items():
            if value is not None:
                sla.append({"coordinators": size, "kind": kind.replace("_", " "),
                            "SLA met": value})
        for row in figures["hours"]:
            hours.append({"coordinators": size, "client": row["practice"],
                          "delivered h/week": round(row["delivered_hours"] / weeks, 1),
                          "contracted h/week": round(row["contracted_hours"] / weeks, 1)})
        revenue.append({"coordinators": size,
                        "referred revenue / week": round(figures["booked_revenue"] / weeks)})
    return {"sla": sla, "hours": hours, "revenue": revenue}


def _team(size: int) -> str:
    return f"{size} coordinator{'s' if size > 1 else ''}"


def _miss(size: int) -> str:
    return "misses" if size == 1 else "miss"


def staffing_answer(results: dict[int, dict[str, Any]], *, days: int, warm_up: int,
                    current: int | None = None, sla_target: float = 0.95,
                    hours_tolerance: float = 0.10) -> str:
    """One sentence: the smallest team meeting every lead SLA and contract, what one fewer
    misses, and today's team beside it ("you have 10")."""
    if not results:
        return "No results yet."
    weeks = max(1e-9, (days - warm_up) / 5.0)

    def out_of_reach(figures: dict[str, Any]) -> int:
        """Leads missed only because they fell due before the team's next calling hour
        (0 when the team also missed leads it could have reached)."""
        lead = figures.get("lead_contact_within_sla")
        reachable = figures.get("lead_contact_within_sla_in_reach")
        if lead is None or lead >= sla_target or reachable is None or reachable < sla_target:
            return 0
        return int(figures.get("lead_sla_out_of_reach") or 0)

    def misses(figures: dict[str, Any]) -> list[str]:
        found = []
        lead = figures.get("lead_contact_within_sla")
        if lead is not None and lead < sla_target and not out_of_reach(figures):
            found.append(f"first contact of leads ({lead:.0%} within SLA)")
        worst = min(figures["hours"], key=lambda r: r["deviation"], default=None)
        if worst is not None and worst["deviation"] < -hours_tolerance:
            short = (worst["contracted_hours"] - worst["delivered_hours"]) / weeks
            found.append(f"{worst['practice']}'s hours by {short:.0f} h/week")
        return found

    sizes = sorted(results)
    have = f" (you have {current})" if current else ""
    meeting = [size for size in sizes if not misses(results[size])]
    if not meeting:
        top = sizes[-1]
        return (f"Even {_team(top)} {_miss(top)} {' and '.join(misses(results[top]))}"
                f"{have}.")
    best = meeting[0]
    meet = "meets" if best == 1 else "meet"
    fewest = " (the fewest simulated)" if best == sizes[0] and best > 1 else ""
    late = out_of_reach(results[best])
    goal = ("every client's contracted hours and the lead SLA wherever their calling hours "
            "allow" if late else "every client's lead SLA and contracted hours")
    sentence = f"{_team(best)}{fewest} {meet} {goal}{have}"
    smaller = [size for size in sizes if size < best]
    if smaller:
        one_less = smaller[-1]
        sentence += f"; {one_less} {_miss(one_less)} {' and '.join(misses(results[one_less]))}"
    if late:
        sentence += (f"; {late} lead{'s' if late > 1 else ''} fell due before the team's next "
                     "calling hour, which earlier hours would reach and more people would not")
    return sentence + "."
