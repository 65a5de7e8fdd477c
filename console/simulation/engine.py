"""One policy's run over a world, inside a throwaway data home (see docs/simulation.md).

The settings must already point at that home (the worker process sets LOOPDESK_HOME). The
run generates the practices' exports, ingests and builds them, creates the coordinators, then
steps through the world's days with the injected clock: a nightly `build_everything`,
`run_automation` passes every 4 hours (messages go to a recording channel; the people model
decides who replies), and coordinators who claim (`claim_next`, or the comparison orders in
policies.py), call (the people model decides what happens and how long it takes) and log the
outcome with `log_disposition`. Everything after the warm-up days is measured (metrics.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import itertools
import os
import shutil
import time as timer
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import event, select
from sqlmodel import Session, col

from console.identity import passwords
from console.identity.access import CurrentUser, current_user
from console.messaging.channels import Attachment, Channels, MessageParts
from console.models.identity import Role, User
from console.models.outreach import Message
from console.models.practice import PracticeSettings
from console.models.types import columns
from console.models.work import Disposition, LeadEvent, Task, TaskKind
from console.outreach.replies import record_inbound
from console.platform.db import get_engine, init_db
from console.simulation.exports import FullExports, write_night
from console.simulation.people import Call, PeopleModel
from console.simulation.policies import claim
from console.simulation.world import World
from console.work.claims import StaleClaim
from console.work.dispositions import log_disposition
from console.work.leads import LeadInput, create_lead
from console.work.other_work import most_behind, scope_practices
from console.work.time_entries import log_time
from loopdesk_core import clock

WRAP_UP_MINUTES = 1.0  # between one call's end and the next claim
IDLE_MINUTES = 10.0  # a coordinator with nothing callable looks again this much later
# Policies run on Loopdesk's console, whose My queue points an idle coordinator at the practice
# most behind its hours: they log their idle minutes as other work for it (fifo's shared inbox
# has no hours view: its coordinators just wait).
OTHER_WORK_POLICIES = frozenset({"priority", "oracle"})
REPEAT_AFTER = timedelta(days=10)  # a referrer's next referral, if any, comes this much later
BUILD_LOCAL = time(1, 0)  # the nightly build, agency time
# `loopdesk automate` passes: half an hour before the day starts, then every 4 hours.
AUTOMATE_EVERY = timedelta(hours=4)
Progress = Callable[[float, str], None]
# Every snapshot table a simulated service reads (docs/simulation.md, "The nightly build"):
# refresh_tasks (practices, rates, learned rates, patients, leads, ask and review candidates),
# run_automation (ask candidates, patients), the loop-closure message's referrer (patients,
# leads) and the learned queue's priors. The nightly builds make these and the models they
# read, and skip the rest (the managers' marts, data checks, the contact index `inbound` reads).
SNAPSHOT_READS = frozenset({
    "mart_practices", "mart_practice_rates", "mart_learned_rates", "mart_patients",
    "mart_leads", "mart_ask_candidates", "mart_review_candidates", "stg_seed__queue_priors",
})


@dataclass(frozen=True)
class SharedNights:
    """A folder the workers of one simulation share (runner.py makes it, deletes it after): the
    world's generated exports and, per night, the raw store as that night's ingest left it.

    What a night's exports are, and so what ingesting them does to the raw store's export
    tables, depends only on the world and the night, never on the policy: the first worker to
    reach a night writes the exports and ingests them in its own home as before and leaves a
    copy of its raw store here; the others copy it into their homes instead of ingesting.
    Each worker's build then replaces every operational-event table of that raw store
    wholesale with its own (`warehouse.raw_store.write_ops_events`), so its build reads what
    its own ingest would have left. A lock per item makes a worker that arrives while another
    is producing it wait for it (it would otherwise do the same work beside it)."""

    folder: Path

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[Path]:
        """Hold `name`'s lock (blocking) and yield where `name` lives in the folder."""
        with open(self.folder / f"{name}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield self.folder / name
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def exports(self, world: World, last_day: date, zone: ZoneInfo) -> Path:
        """The world's full exports, generated by the first worker that asks."""
        with self.locked("exports-future") as full:
            if not full.exists():
                partial = self.folder / "exports-future.partial"
                shutil.rmtree(partial, ignore_errors=True)
                _generate(world, partial, last_day, zone)
                partial.rename(full)
        return full

    def ingested(self, at: datetime, ingest_here: Callable[[], None]) -> bool:
        """Leave this home's raw store as the night's ingest at `at` leaves it: a copy of the
        one another worker kept (False), or `ingest_here()` (True; then kept for the others)."""
        from warehouse.paths import raw_db_path

        raw = raw_db_path()
        with self.locked(f"raw-{at:%Y%m%dT%H%M%SZ}.duckdb") as kept:
            if kept.exists():
                _copy_store(kept, raw)
                return False
            ingest_here()
            partial = kept.with_name(kept.name + ".partial")
            _copy_store(raw, partial)
            for suffix in ("", ".wal"):
                source = Path(f"{partial}{suffix}")
                if source.exists():
                    source.rename(f"{kept}{suffix}")
        return True


def _copy_store(source: Path, target: Path) -> None:
    """Copy a closed DuckDB file (and its write-ahead log, if one is left) over `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".wal", ""):
        here, there = Path(f"{source}{suffix}"), Path(f"{target}{suffix}")
        if here.exists():
            shutil.copyfile(here, there)
        elif suffix:
            with contextlib.suppress(FileNotFoundError):
                os.remove(there)


class RecordingChannel:
    """A channel that delivers nothing: it remembers what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, *, recipient: str, subject: str, body: str,
             parts: MessageParts | None = None,
             attachments: Sequence[Attachment] = ()) -> None:
        """Record the recipient only (bodies may name the patient)."""
        self.sent.append(recipient)


@dataclass
class Run:
    """The state of one policy's run."""

    world: World
    policy: str
    people: PeopleModel
    zone: ZoneInfo
    start: datetime
    measure_from: datetime | None = None
    end: datetime | None = None
    users: list[CurrentUser] = field(default_factory=list)
    lead_keys: dict[str, str] = field(default_factory=dict)  # lead_id -> the sim's person key
    case_values: dict[str, float] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    events: list[tuple[datetime, int, str, Any]] = field(default_factory=list)
    calls_total: int = 0
    stale_logs: int = 0
    root_kinds: dict[int, str] = field(default_factory=dict)  # a chain's first task -> kind
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per phase (diagnostics)
    statements: int = 0  # SQL statements sent to the operational store so far (diagnostics)
    by_phase: dict[str, list[int]] = field(default_factory=dict)  # phase -> [steps, statements]
    build_modes: dict[str, int] = field(default_factory=dict)  # nightly builds by mode
    zones: list[str] | None = None  # the practices' time zones, read after each build
    exports: FullExports | None = None  # the world's full exports, read once for the run
    # A coordinator's practices (read once: the team's scopes do not change in a run).
    scope_practices: dict[int, list[PracticeSettings]] = field(default_factory=dict)
    shared: SharedNights | None = None  # what this run shares with the other policies' runs
    ingests: dict[str, int] = field(default_factory=dict)  # nights ingested here / copied
    other_work_logs: int = 0  # time entries logged by idle coordinators (`_idle`)
    _marked: int = 0

    def mark(self) -> float:
        """Start timing a step: its CPU time (time.process_time()) and statements from now."""
        self._marked = self.statements
        return timer.process_time()

    def spent(self, phase: str, since: float) -> None:
        """Add the CPU time since `since` (`mark()`) and the step's statements to a phase."""
        self.cpu[phase] = self.cpu.get(phase, 0.0) + timer.process_time() - since
        counts = self.by_phase.setdefault(phase, [0, 0])
        counts[0] += 1
        counts[1] += self.statements - self._marked

    def count_statement(self, *_: Any) -> None:
        """An engine `before_cursor_execute` listener: one more statement."""
        self.statements += 1

    def push(self, at: datetime, kind: str, payload: Any = None) -> None:
        """Schedule an event."""
        heapq.heappush(self.events, (at, next(self.counter), kind, payload))


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _scale_contracts(exports: Path, world: World) -> None:
    """Scale the practices' contracted hours so they sum to the world's share of capacity."""
    path = exports / "practices.csv"
    frame = pl.read_csv(path, infer_schema_length=0)
    hours = frame["contracted_hours_per_week"].cast(pl.Float64, strict=False)
    capacity = (world.agency.coordinators * world.agency.hours_per_day * 5
                * world.agency.contracted_share)
    total = float(hours.sum() or 0.0)
    if total <= 0:
        return
    scaled = (hours * (capacity / total)).round(1)
    frame.with_columns(contracted_hours_per_week=scaled.cast(pl.String)).write_csv(path)


def _setup(run: Run, home: Path, last_day: date) -> None:
    from console.lifecycle.build import build_everything
    from warehouse.snapshot import building_only_for

    world = run.world
    full = home / "exports-future"
    if world.source == "agency":
        # The agency's own ingested exports were copied into this home (runner.py).
        with clock.pinned(run.start), building_only_for(SNAPSHOT_READS):
            build_everything(now=run.start)
    else:
        if run.shared is not None:
            full = run.shared.exports(world, last_day, run.zone)
        else:
            _generate(world, full, last_day, run.zone)
        run.exports = FullExports(full)
        nightly(home, run.start, run.exports, run.shared, run.ingests)
    _create_team(run)


def _generate(world: World, full: Path, last_day: date, zone: ZoneInfo) -> None:
    from pipelines.generate import generate_exports

    # The exports run to the end of the world: treatments completed and friends referred
    # after the start stay invisible to the marts (which read as of each build) until their
    # day comes, so every nightly build brings the day's new work.
    generate_exports(full, practices=world.practices.count, seed=world.seed,
                     months=world.practices.months_of_history,
                     now=_local(last_day, time(23, 0), zone))
    _scale_contracts(full, world)


def _create_team(run: Run) -> None:
    from console.identity.users import add_user

    world = run.world
    engine = get_engine()
    init_db(engine)
    with Session(engine) as session:
        slugs = list(session.execute(select(*columns(PracticeSettings.practice_slug))).scalars())
        for i in range(world.agency.coordinators):
            add_user(session=session, email=f"coordinator{i + 1:02d}@sim.loopdesk.test",
                     role=Role.coordinator, password=passwords.generate_password(),
                     practice_slugs=slugs, actor="system:simulation", now=run.start)
        ids = session.execute(select(*columns(User.user_id))
                              .where(col(User.role) == Role.coordinator)
                              .order_by(col(User.user_id))).scalars().all()
        run.users = [acting for user_id in ids
                     if (acting := current_user(session=session, user_id=user_id)) is not None]
        run.case_values = {
            p.practice_slug: float(p.avg_case_value or 0.0)
            for p in session.execute(select(PracticeSettings)).scalars()
        }
        session.expunge_all()


def nightly(home: Path, at: datetime, exports: FullExports | None = None,
            shared: SharedNights | None = None, ingests: dict[str, int] | None = None) -> str:
    """The night's exports, ingest and build, with the clock pinned to `at`; the build's mode
    (`full` or `incremental`). `exports`: the run's reading of the full exports (else those in
    `home`); `shared`: the night's ingest as another policy's worker left it, if it did;
    `ingests` counts the nights `ingested` here and `copied` (diagnostics)."""
    from console.lifecycle.build import build_everything
    from pipelines.ingest import ingest
    from warehouse.snapshot import building_only_for

    full = exports.full if exports is not None else home / "exports-future"

    def ingest_here() -> None:
        write_night(full, home / "exports", at, exports)
        ingest(home / "exports")

    with clock.pinned(at):
        if full.exists():
            here = True
            if shared is None:
                ingest_here()
            else:
                here = shared.ingested(at, ingest_here)
            if ingests is not None:
                name = "ingested" if here else "copied"
                ingests[name] = ingests.get(name, 0) + 1
        with building_only_for(SNAPSHOT_READS):
            return str(build_everything(now=at).build.mode)


def _zones() -> list[str]:
    """The practices' time zones (what `ranking.open_zones` reads per claim): they change only
    with a build, so the comparison orders read them once a night."""
    with Session(get_engine()) as session:
        return list(session.execute(
            select(*columns(PracticeSettings.timezone)).distinct()).scalars())


def person_key(task: Task | Any, lead_keys: dict[str, str]) -> str:
    """A stable key for the person a task calls, the same under every policy."""
    if task.subject_type == "lead" and task.lead_id in lead_keys:
        return lead_keys[task.lead_id]
    return f"{task.practice_slug}:{task.subject_type}:{task.subject_id}"


def purpose(run: Run, task: Task | Any) -> str:
    """What a call is for: its kind, or a follow-up's chain's first kind (cached)."""
    if task.kind != TaskKind.follow_up or task.source_task_id is None:
        return str(task.kind)
    root = int(task.source_task_id)
    if root not in run.root_kinds:
        # (A chain the simulated team called first is known from its log: `_log`.)
        with Session(get_engine()) as session:
            kind = session.execute(
                select(*columns(Task.kind)).where(col(Task.task_id) == root)).scalar()
        run.root_kinds[root] = str(kind or TaskKind.ask)
    return run.root_kinds[root]


def _call_of(run: Run, task: Task | Any) -> Call:
    return Call(
        kind=task.kind, person=person_key(task, run.lead_keys), attempt=task.attempt,
        practice_tz=task.practice_tz, category=task.category,
        satisfaction=task.satisfaction_score,
        lead_referred_at=task.decay_from if task.kind == TaskKind.contact_lead else None,
        purpose=purpose(run, task),
    )


def oracle_key(run: Run) -> Callable[[Any, datetime], float]:
    """The oracle's order: the world's true expected referred revenue per minute.

    What the simulator knows of a call (`_call_of`) changes only with the task's attempt, so
    it is built once per task and attempt rather than for every callable task at every claim.
    """
    calls: dict[tuple[int, int], tuple[Call, float]] = {}

    def key(row: Any, now: datetime) -> float:
        found = calls.get((row.task_id, row.attempt))
        if found is None:
            value = run.case_values.get(row.practice_slug, row.case_value)
            found = calls[(row.task_id, row.attempt)] = (_call_of(run, row), value)
        return run.people.true_value_per_minute(found[0], now, found[1])
    return key


def _friend(referrer: str, n: int) -> tuple[str, LeadInput]:
    """The referred friend's sim key and made-up, valid-looking contact details."""
    key = f"{referrer}:friend{n}"
    number = abs(hash_int(key)) % 10_000_000
    exchange = 200 + number // 10_000 % 800
    phone = f"(312) {exchange:03d}-{number % 10_000:04d}"
    return key, LeadInput(first_name="Friend", last_name="", phone=phone,
                          email=f"friend.{number:07d}@sim.loopdesk.test")


def hash_int(text: str) -> int:
    """A deterministic integer for a text (Python's hash() is salted per process)."""
    import zlib
    return zlib.crc32(text.encode()) * 1_000_003 + zlib.adler32(text.encode())


def _practice(session: Session, slug: str) -> PracticeSettings:
    practice = session.get(PracticeSettings, slug)
    if practice is None:
        raise RuntimeError(f"practice {slug} vanished")
    return practice


def _new_lead(run: Run, session: Session, *, slug: str, referrer_id: str, referrer: str,
              n: int, now: datetime) -> None:
    key, lead = _friend(referrer, n)
    captured, _task = create_lead(session=session, practice=_practice(session, slug),
                                  referrer_patient_id=referrer_id, lead=lead, source="link",
                                  now=now)
    run.lead_keys[captured.lead_id] = key
    session.commit()


def _on_claimed(run: Run, session: Session, user: CurrentUser, task: Task, now: datetime) -> None:
    call = _call_of(run, task)
    outcome = run.people.call(call, now)
    done = now + timedelta(minutes=outcome.minutes)
    run.push(done, "log", (user, task, outcome))


def _log(run: Run, session: Session, now: datetime, payload: Any) -> None:
    user, task, outcome = payload
    if task.source_task_id is None:
        # The first task of any chain this call's outcome starts (what `purpose` looks up).
        run.root_kinds.setdefault(int(task.task_id), str(task.kind))
    lead = None
    key = person_key(task, run.lead_keys)
    if outcome.disposition == Disposition.referred:
        friend_key, lead = _friend(key, 0)
    try:
        result = log_disposition(
            session=session, user=user, task_id=task.task_id, claim_version=task.claim_version,
            disposition=outcome.disposition, minutes=outcome.minutes, notes="",
            callback_at=None, lead=lead, now=now,
        )
    except StaleClaim:
        # The real service refused the outcome (e.g. automation took the ask over during
        # the call): the coordinator sees an error and moves on, as in the console.
        session.rollback()
        run.stale_logs += 1
        run.push(now + timedelta(minutes=WRAP_UP_MINUTES), "free", user)
        return
    run.calls_total += 1
    if outcome.disposition == Disposition.referred and result.lead_id:
        run.lead_keys[result.lead_id] = friend_key
    lead_over = outcome.disposition in (Disposition.lead_booked, Disposition.lead_declined) or (
        task.kind == TaskKind.contact_lead and result.task_status == "done")
    if lead_over and task.lead_id:
        referrer = task.referrer_patient_id or _referrer_of(session, task)
        if referrer:
            run.push(now + REPEAT_AFTER, "repeat",
                     (task.practice_slug, task.lead_id, referrer))
    run.push(now + timedelta(minutes=WRAP_UP_MINUTES), "free", user)


def _referrer_of(session: Session, task: Task) -> str | None:
    from console.models.work import Lead
    lead = session.get(Lead, (task.practice_slug, task.lead_id))
    return lead.referrer_patient_id if lead is not None else None


def _repeat(run: Run, session: Session, now: datetime, payload: Any) -> None:
    slug, lead_id, referrer_id = payload
    closed = session.execute(
        select(*columns(LeadEvent.event_id)).where(col(LeadEvent.practice_slug) == slug)
        .where(col(LeadEvent.lead_id) == lead_id).where(col(LeadEvent.event) == "loop_closed")
        .limit(1)
    ).first() is not None
    referrer = f"{slug}:patient:{referrer_id}"
    # The lead's sim key, not its id: console lead ids are random, the draws must not be.
    lead = run.lead_keys.get(lead_id, f"{slug}:lead:{lead_id}")
    if run.people.refers_again(f"{referrer}:{lead}", closed):
        _new_lead(run, session, slug=slug, referrer_id=referrer_id, referrer=referrer,
                  n=1 + hash_int(lead) % 1000, now=now)


def _automate(run: Run, session: Session, now: datetime) -> None:
    from console.outreach.automation import run_automation
    from warehouse.snapshot import reading_snapshot

    email, sms = RecordingChannel(), RecordingChannel()
    with reading_snapshot() as snapshot:
        run_automation(session=session, snapshot=snapshot, channels=Channels(email=email,
                       sms=sms), now=now)
    sent = session.execute(
        select(Message).where(col(Message.purpose) == "ask").where(col(Message.sent_at) == now)
    ).scalars().all()
    for message in sent:
        person = f"{message.practice_slug}:{message.subject_type}:{message.subject_id}"
        if run.people.replies_to_email(person):
            hours = 1.0 + 23.0 * run.people.draw(person, "reply_delay")
            run.push(now + timedelta(hours=hours), "reply",
                     (message.channel, message.recipient, message.practice_slug,
                      message.patient_id or message.subject_id, person))


def _reply(run: Run, session: Session, now: datetime, payload: Any) -> None:
    channel, recipient, slug, patient_id, person = payload
    record_inbound(session=session, channel=channel, address=recipient,
                   text="Thanks, happy to pass this on", now=now)
    session.commit()
    if run.people.draw(person, "reply_names") < run.people.people.names_friend_given_willing:
        _new_lead(run, session, slug=slug, referrer_id=patient_id, referrer=person, n=0,
                  now=now)


@dataclass(frozen=True)
class OtherWork:
    """A coordinator doing non-call referral work for a practice since `since` (the payload of
    their next "free" event): logged with `log_time` when they look at the queue again."""

    user: CurrentUser
    practice_slug: str
    since: datetime


def _idle(run: Run, session: Session, user: CurrentUser, at: datetime) -> CurrentUser | OtherWork:
    """Nothing callable at `at`: under a console policy, the practice My queue suggests (most
    behind its pro-rated hours this week), if any, gets the coordinator's idle minutes."""
    if run.policy not in OTHER_WORK_POLICIES:
        return user
    practices = run.scope_practices.get(user.user_id)
    if practices is None:
        practices = run.scope_practices[user.user_id] = scope_practices(session, user)
    owed = most_behind(session=session, user=user, now=at, practices=practices)
    return user if owed is None else OtherWork(user, owed.practice_slug, at)


def _log_other_work(run: Run, session: Session, work: OtherWork, until: datetime) -> None:
    """Log the minutes of other work from `work.since` to `until` (the real service)."""
    minutes = (until - work.since) / timedelta(minutes=1)
    if minutes <= 0:
        return
    log_time(session=session, user=work.user, practice_slug=work.practice_slug,
             minutes=minutes, note=None, now=until)
    run.other_work_logs += 1


def run_policy(world: World, policy: str, home: Path, progress: Progress | None = None,
               diagnostics: dict[str, Any] | None = None,
               shared: Path | None = None) -> dict[str, Any]:
    """Run one policy over the world in `home` (settings point there); return its figures.

    `diagnostics`, when given, receives the run's CPU seconds per phase (not figures: they
    vary from run to run). `shared`: a folder the other policies' runs of this world share
    (`SharedNights`): the generated exports and each night's ingest are made once there.
    """
    from console.simulation.metrics import measure

    zone = ZoneInfo(world.agency.agency_timezone)
    days = world.working_days()
    run = Run(world=world, policy=policy, people=PeopleModel(world.people, world.seed),
              zone=zone, start=_local(days[0], time(0), zone) - timedelta(hours=6),
              shared=SharedNights(shared) if shared is not None else None)
    event.listen(get_engine(), "before_cursor_execute", run.count_statement)
    began = run.mark()
    _setup(run, home, days[-1])
    run.zones = _zones()
    run.spent("setup", began)
    oracle = oracle_key(run)
    run.measure_from = _local(days[world.warm_up], time(0), zone)
    engine = get_engine()
    calendar = [days[0] + timedelta(days=i) for i in range((days[-1] - days[0]).days + 1)]
    start_hour = time(world.agency.start_hour)
    for index, day in enumerate(calendar):
        if progress is not None:
            progress(index / len(calendar), f"{policy}: day {index + 1} of {len(calendar)}")
        if day.weekday() >= 5:
            continue  # nobody works: the next working day's night brings everything
        if index > 0:
            began = run.mark()
            mode = nightly(home, _local(day, BUILD_LOCAL, zone), run.exports, run.shared,
                           run.ingests)
            run.zones = _zones()
            run.build_modes[mode] = run.build_modes.get(mode, 0) + 1
            run.spent("nightly", began)
        begin = _local(day, start_hour, zone)
        finish = begin + timedelta(hours=world.agency.hours_per_day)
        for user in run.users:
            run.push(begin, "free", user)
        hour = begin - timedelta(minutes=30)
        while hour < finish:
            run.push(hour, "automate")
            hour += AUTOMATE_EVERY
        _drain(run, engine, until=finish, policy=policy, oracle=oracle)
    run.end = _local(calendar[-1] + timedelta(days=1), time(0), zone)
    _drain(run, engine, until=run.end, policy=policy, oracle=oracle, calls=False)
    if progress is not None:
        progress(1.0, f"{policy}: measuring")
    with Session(engine) as session:
        figures = measure(session=session, world=world, policy=policy,
                          measure_from=run.measure_from, end=run.end)
    if diagnostics is not None:
        diagnostics["cpu_seconds_by_phase"] = {k: round(v, 1) for k, v in sorted(run.cpu.items())}
        # Steps (events, nights) and SQL statements per phase: what CPU seconds do not show
        # on a loaded machine.
        diagnostics["steps_by_phase"] = {k: v[0] for k, v in sorted(run.by_phase.items())}
        diagnostics["statements_by_phase"] = {k: v[1] for k, v in sorted(run.by_phase.items())}
        diagnostics["nightly_builds"] = dict(sorted(run.build_modes.items()))
        diagnostics["nightly_ingests"] = dict(sorted(run.ingests.items()))
        diagnostics["claim_windows"] = _window_counts(run, engine)
        diagnostics["other_work_entries"] = run.other_work_logs
    return figures | {"refused_outcomes": run.stale_logs}


def _window_counts(run: Run, engine: Any) -> dict[str, int]:
    """What the claim windows of the team's scopes did (console/work/window.py): rankings
    made, of which ahead of need in a thread of its own, windows adopted from another process
    and published. The simulated team claims one at a time in one thread, so nothing may be
    ranked in a thread or adopted: which ranking a claim used would then depend on timing."""
    from console.work import window

    counts = dict.fromkeys(("rankings", "ranked_in_thread", "adopted", "published"), 0)
    with Session(engine) as session:
        found = (window.slot_for(session, window.scope_key(user.work_scope,
                                                          user.sees_escalated))
                 for user in run.users)
        slots = {id(slot): slot for slot in found}  # (coordinators of one scope share one)
    for slot in slots.values():
        counts["rankings"] += slot.refreshes
        counts["ranked_in_thread"] += slot.ahead
        counts["adopted"] += slot.adopted
        counts["published"] += slot.published
    return counts


def _drain(run: Run, engine: Any, *, until: datetime, policy: str,
           oracle: Callable[[Any, datetime], float], calls: bool = True) -> None:
    """Process events up to `until`; coordinators stop claiming at `until`."""
    with Session(engine, expire_on_commit=False) as session:
        # The practices' settings change only with a nightly build (refresh), never during a
        # day. Held here for the day, the services' `session.get(PracticeSettings, …)` (per
        # logged outcome, message sent, lead, follow-up) find them in the session's identity
        # map instead of reading the row again: the map keeps only weak references, so a row
        # no caller holds any more was read anew at every call. (After a rollback the
        # session expires them and the next `get` reads the row again, as before.)
        held = session.execute(select(PracticeSettings)).scalars().all()
        while run.events and run.events[0][0] <= until:
            at, _, kind, payload = heapq.heappop(run.events)
            began = run.mark()
            with clock.pinned(at):
                _handle(run, session, at, kind, payload, policy=policy, oracle=oracle,
                        calls=calls, until=until)
            run.spent("claim" if kind == "free" else kind, began)
        # Calls still running at the end of the day finish after `until`.
        if calls:
            pending = [e for e in run.events if e[2] == "log"]
            for at, _, _, payload in sorted(pending, key=lambda e: (e[0], e[1])):
                began = run.mark()
                with clock.pinned(at):
                    _log(run, session, at, payload)
                run.spent("log", began)
            # Other work under way at the end of the day is logged up to the end.
            for at, _, _, payload in sorted((e for e in run.events if e[2] == "free"
                                             and isinstance(e[3], OtherWork)),
                                            key=lambda e: (e[0], e[1])):
                began = run.mark()
                with clock.pinned(until):
                    _log_other_work(run, session, payload, min(at, until))
                run.spent("claim", began)
            run.events = [e for e in run.events if e[2] not in ("log", "free")]
            heapq.heapify(run.events)
        del held  # (held for the day: see above)


def _handle(run: Run, session: Session, at: datetime, kind: str, payload: Any, *, policy: str,
            oracle: Callable[[Any, datetime], float], calls: bool, until: datetime) -> None:
    """One event."""
    if kind == "free":
        user = payload
        if isinstance(payload, OtherWork):
            _log_other_work(run, session, payload, at)
            user = payload.user
        if not calls or at >= until:
            return
        task = claim(policy=policy, session=session, user=user, now=at,
                     oracle=oracle, zones=run.zones)
        if task is None:
            run.push(at + timedelta(minutes=IDLE_MINUTES), "free", _idle(run, session, user, at))
        else:
            _on_claimed(run, session, user, task, at)
    elif kind == "log":
        _log(run, session, at, payload)
    elif kind == "automate":
        _automate(run, session, at)
    elif kind == "repeat":
        _repeat(run, session, at, payload)
    elif kind == "reply":
        _reply(run, session, at, payload)
