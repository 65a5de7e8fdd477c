"""The world file: a TOML description of an agency and the hidden truth about its people.

Unknown keys are an error, missing keys take the defaults below (docs/simulation.md), every
rate must lie in 0..1 and every count must be positive. `load_world` raises `UserError` with
one line naming the offending key, so the CLI prints `error: ...` and exits 2.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from console.models.work import TaskKind
from console.platform.errors import UserError

KINDS = tuple(TaskKind)
DEFAULT_CALL_MINUTES: dict[str, float] = {
    TaskKind.ask: 8.0, TaskKind.follow_up: 6.0, TaskKind.contact_lead: 7.0,
    TaskKind.close_loop: 4.0, TaskKind.review_request: 3.0,
}
DEFAULT_ANSWER_BY_HOUR = {8: 0.20, 12: 0.35, 17: 0.45, 20: 0.30}


@dataclass(frozen=True)
class Agency:
    """The team: how many coordinators, their calling hours and the agency's zone."""

    coordinators: int = 3
    hours_per_day: float = 7.0
    agency_timezone: str = "America/Chicago"
    start_hour: int = 8  # local hour (agency zone) the calling day starts
    contracted_share: float = 0.9  # practices' contracts are scaled to this share of capacity


@dataclass(frozen=True)
class Practices:
    """The generated practices (as `loopdesk generate` makes them, with the world's seed)."""

    count: int = 12
    months_of_history: int = 12


@dataclass(frozen=True)
class People:
    """The hidden truth: how patients and referred friends really behave."""

    answer_rate_by_local_hour: dict[int, float] = field(
        default_factory=lambda: dict(DEFAULT_ANSWER_BY_HOUR))
    answer_decay_per_attempt: float = 0.8
    willing_base: float = 0.55
    willing_per_satisfaction_point: float = 0.05
    names_friend_given_willing: float = 0.45
    email_reply_rate: float = 0.12
    lead_answer_at_zero_hours: float = 0.75
    lead_answer_half_life_hours: float = 20.0
    lead_book_rate: float = 0.45
    repeat_referral_rate: float = 0.10  # P(a referrer refers again within 10 days), not thanked
    repeat_referral_boost_loop_closed: float = 2.0
    unanswered_call_minutes: float = 1.5
    call_minutes: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_CALL_MINUTES))
    by_category: dict[str, float] = field(default_factory=dict)

    def answer_at_hour(self, hour: float) -> float:
        """P(a patient answers) at a local hour: linear between the given hours, flat outside."""
        points = sorted(self.answer_rate_by_local_hour.items())
        if hour <= points[0][0]:
            return points[0][1]
        for (h0, r0), (h1, r1) in itertools.pairwise(points):
            if hour <= h1:
                return r0 + (r1 - r0) * (hour - h0) / (h1 - h0)
        return points[-1][1]


@dataclass(frozen=True)
class World:
    """A whole world file, parsed and checked."""

    seed: int = 7
    days: int = 28
    # "generated" (practices made as `loopdesk generate` does) or "agency": the agency's own
    # ingested exports, copied from `raw_store` (the staffing what-if; not a world-file key).
    source: str = "generated"
    raw_store: str | None = None
    warm_up_days: int | None = None  # default: min(14, days // 2)
    start_date: date = date(2026, 11, 2)
    agency: Agency = field(default_factory=Agency)
    practices: Practices = field(default_factory=Practices)
    people: People = field(default_factory=People)

    @property
    def warm_up(self) -> int:
        """Working days run before measuring (the learned queue's history)."""
        return self.warm_up_days if self.warm_up_days is not None else min(14, self.days // 2)

    def working_days(self) -> list[date]:
        """The simulated working days (Monday to Friday from `start_date`)."""
        days: list[date] = []
        day = self.start_date
        while len(days) < self.days:
            if day.weekday() < 5:
                days.append(day)
            day += timedelta(days=1)
        return days

    def calling_shifts(self) -> list[tuple[datetime, datetime]]:
        """The team's calling hours of each working day, as UTC (begin, end) pairs."""
        zone = ZoneInfo(self.agency.agency_timezone)
        shifts = []
        for day in self.working_days():
            begin = datetime.combine(day, time(self.agency.start_hour), tzinfo=zone).astimezone(UTC)
            shifts.append((begin, begin + timedelta(hours=self.agency.hours_per_day)))
        return shifts

    def to_json(self) -> dict[str, Any]:
        """The world as plain JSON values (the `world` part of the simulate document)."""
        data = asdict(self)
        data["warm_up_days"] = self.warm_up
        data["start_date"] = self.start_date.isoformat()
        data["people"]["answer_rate_by_local_hour"] = {
            str(hour): rate for hour, rate in self.people.answer_rate_by_local_hour.items()}
        return data

    def with_coordinators(self, coordinators: int) -> World:
        """The same world with another team size (the staffing what-if)."""
        return replace(self, agency=replace(self.agency, coordinators=coordinators))


def _fail(message: str) -> UserError:
    return UserError(f"world file: {message}")


def _rate(name: str, value: Any) -> float:
    number = _number(name, value)
    if not 0.0 <= number <= 1.0:
        raise _fail(f"{name} must be between 0 and 1 (got {value})")
    return number


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"{name} must be a number (got {value!r})")
    return float(value)


def _positive(name: str, value: Any, *, integer: bool = False, zero: bool = False) -> Any:
    number = _number(name, value)
    if integer and number != int(number):
        raise _fail(f"{name} must be a whole number (got {value})")
    if number < 0 or (number == 0 and not zero):
        raise _fail(f"{name} must be {'zero or more' if zero else 'positive'} (got {value})")
    return int(number) if integer else number


def _table(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"[{name}] must be a table")
    return value


def _known(section: str, data: dict[str, Any], cls: type) -> None:
    allowed = {f.name for f in fields(cls)}
    for key in data:
        if key not in allowed:
            where = f"{section}.{key}" if section else key
            raise _fail(f"unknown key {where!r}")


RATES = ("answer_decay_per_attempt", "willing_base", "willing_per_satisfaction_point",
         "names_friend_given_willing", "email_reply_rate", "lead_answer_at_zero_hours",
         "lead_book_rate", "repeat_referral_rate")


def _people(data: dict[str, Any]) -> People:
    _known("people", data, People)
    values: dict[str, Any] = {}
    for name in RATES:
        if name in data:
            values[name] = _rate(f"people.{name}", data[name])
    for name in ("lead_answer_half_life_hours", "repeat_referral_boost_loop_closed"):
        if name in data:
            values[name] = _positive(f"people.{name}", data[name])
    if "unanswered_call_minutes" in data:
        values["unanswered_call_minutes"] = _positive("people.unanswered_call_minutes",
                                                      data["unanswered_call_minutes"])
    if "answer_rate_by_local_hour" in data:
        table = _table("people.answer_rate_by_local_hour", data["answer_rate_by_local_hour"])
        hours: dict[int, float] = {}
        for key, rate in table.items():
            try:
                hour = int(key)
            except ValueError:
                raise _fail(f"people.answer_rate_by_local_hour: {key!r} is not an hour") from None
            if not 0 <= hour <= 23:
                raise _fail(f"people.answer_rate_by_local_hour: hour {key} is not 0..23")
            hours[hour] = _rate(f"people.answer_rate_by_local_hour.{key}", rate)
        if not hours:
            raise _fail("people.answer_rate_by_local_hour needs at least one hour")
        values["answer_rate_by_local_hour"] = dict(sorted(hours.items()))
    if "call_minutes" in data:
        table = _table("people.call_minutes", data["call_minutes"])
        minutes = dict(DEFAULT_CALL_MINUTES)
        for kind, value in table.items():
            if kind not in KINDS:
                raise _fail(f"unknown key 'people.call_minutes.{kind}'")
            minutes[kind] = _positive(f"people.call_minutes.{kind}", value)
        values["call_minutes"] = minutes
    if "by_category" in data:
        table = _table("people.by_category", data["by_category"])
        values["by_category"] = {
            str(category): _positive(f"people.by_category.{category}", value, zero=True)
            for category, value in table.items()
        }
    return People(**values)


def parse_world(data: dict[str, Any], *, internal: bool = False) -> World:
    """Check a parsed TOML document and build the World (UserError on the first problem).

    `internal` also accepts `source` / `raw_store`, which only the console sets.
    """
    if not internal:
        for key in ("source", "raw_store"):
            if key in data:
                raise _fail(f"unknown key {key!r}")
    _known("", data, World)
    values: dict[str, Any] = {}
    if "seed" in data:
        values["seed"] = _positive("seed", data["seed"], integer=True, zero=True)
    if "days" in data:
        values["days"] = _positive("days", data["days"], integer=True)
    if "warm_up_days" in data:
        values["warm_up_days"] = _positive("warm_up_days", data["warm_up_days"], integer=True,
                                           zero=True)
    if "start_date" in data:
        start = data["start_date"]
        if isinstance(start, str):
            try:
                start = date.fromisoformat(start)
            except ValueError:
                raise _fail("start_date must be a date like 2026-11-02") from None
        if not isinstance(start, date):
            raise _fail("start_date must be a date like 2026-11-02")
        values["start_date"] = start
    if "agency" in data:
        agency = _table("agency", data["agency"])
        _known("agency", agency, Agency)
        parts: dict[str, Any] = {}
        if "coordinators" in agency:
            parts["coordinators"] = _positive("agency.coordinators", agency["coordinators"],
                                              integer=True)
        if "hours_per_day" in agency:
            hours = _positive("agency.hours_per_day", agency["hours_per_day"])
            if hours > 13:
                raise _fail("agency.hours_per_day must be at most 13 (the calling window)")
            parts["hours_per_day"] = hours
        if "start_hour" in agency:
            parts["start_hour"] = _positive("agency.start_hour", agency["start_hour"],
                                            integer=True, zero=True)
            if parts["start_hour"] > 23:
                raise _fail("agency.start_hour must be 0..23")
        if "contracted_share" in agency:
            parts["contracted_share"] = _positive("agency.contracted_share",
                                                  agency["contracted_share"], zero=True)
        if "agency_timezone" in agency:
            zone = agency["agency_timezone"]
            try:
                ZoneInfo(str(zone))
            except (ZoneInfoNotFoundError, ValueError):
                raise _fail(f"agency.agency_timezone {zone!r} is not a time zone") from None
            parts["agency_timezone"] = str(zone)
        values["agency"] = Agency(**parts)
    if "practices" in data:
        practices = _table("practices", data["practices"])
        _known("practices", practices, Practices)
        values["practices"] = Practices(**{
            name: _positive(f"practices.{name}", practices[name], integer=True)
            for name in ("count", "months_of_history") if name in practices
        })
    if "people" in data:
        values["people"] = _people(_table("people", data["people"]))
    if data.get("source") == "agency" and isinstance(data.get("raw_store"), str):
        values["source"], values["raw_store"] = "agency", data["raw_store"]
    world = World(**values)
    if world.warm_up >= world.days:
        raise _fail(f"warm_up_days ({world.warm_up}) must be less than days ({world.days})")
    return world


def load_world(path: Path) -> World:
    """Read and check a world file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(f"{path} does not exist") from None
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(f"{path} is not valid TOML: {exc}") from None
    return parse_world(data)
