"""The generator's practices: the named demo dozen first, then synthetic ones across US metros."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from pipelines.contract import SPECIALTIES
from pipelines.generate_catalogue import (
    CITIES,
    DEMO_PRACTICES,
    SPECIALTY_LABELS,
    typical_case_value,
)

_EPOCH = datetime(1970, 1, 1)
_DAY_US = 86_400_000_000
_NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class PracticeFrame:
    """Per-practice arrays (index = practice number) the row generators draw from."""

    slug: np.ndarray
    name: np.ndarray
    specialty: np.ndarray  # index into SPECIALTIES
    city: np.ndarray  # index into CITIES
    timezone: np.ndarray
    per_year: np.ndarray  # expected treatments per year
    base_rate: np.ndarray  # passive referral rate before onboarding
    post_rate: np.ndarray  # systematic referral rate after onboarding
    onboarded_local: np.ndarray  # naive local microseconds; _NEVER when not onboarded
    now_local: np.ndarray  # naive local microseconds of `now`
    bool_style: np.ndarray
    time_style: np.ndarray
    case_value: np.ndarray
    hours: np.ndarray
    patients: np.ndarray  # patients per practice, set once treatments exist

    @property
    def size(self) -> int:
        """How many practices."""
        return len(self.slug)

    def with_patients(self, treatments: pl.DataFrame) -> PracticeFrame:
        """A copy that knows each practice's patient count."""
        counts = np.zeros(self.size, dtype=np.int64)
        per_practice = treatments.group_by("practice").agg(pl.col("patients_in_practice").first())
        counts[per_practice["practice"].to_numpy()] = per_practice[
            "patients_in_practice"
        ].to_numpy()
        return replace(self, patients=counts)

    def block(self, start: int, stop: int) -> PracticeFrame:
        """Practices start..stop-1 as a frame of their own (numbered from 0)."""
        return PracticeFrame(
            **{name: getattr(self, name)[start:stop] for name in self.__dataclass_fields__}
        )

    def area_code(self, rng: np.random.Generator, practice: np.ndarray) -> np.ndarray:
        """A local area code for each person, drawn from their practice's metro."""
        table = np.array([[c.area_codes[0], c.area_codes[-1]] for c in CITIES])
        return table[self.city[practice], rng.integers(0, 2, len(practice))]

    def to_csv(self) -> pl.DataFrame:
        """practices.csv as text."""
        onboarded = pl.Series(self.onboarded_local)
        return pl.DataFrame(
            {
                "practice_slug": self.slug,
                "name": self.name,
                "specialty": np.array(SPECIALTIES)[self.specialty],
                "timezone": self.timezone,
                "contracted_hours_per_week": self.hours.astype(np.int64).astype(str),
                # The agency's fee: its contracted hours at $55 an hour, to the nearest $250.
                "monthly_fee": (np.round(self.hours.astype(np.int64) * 52 / 12 * 55 / 250)
                                * 250).astype(np.int64).astype(str),
            }
        ).with_columns(
            onboarded_at=pl.when(onboarded != _NEVER)
            .then(onboarded)
            .cast(pl.Datetime("us"))
            .dt.to_string("%Y-%m-%d")
        )


def _local_us(now: datetime, zone: str) -> int:
    """`now` as naive wall-clock microseconds in `zone`."""
    local = now.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return (local - _EPOCH) // timedelta(microseconds=1)


def draw_practices(
    rng: np.random.Generator, count: int, now: datetime, months: int
) -> PracticeFrame:
    """The first `count` practices: the named demo dozen, then synthetic ones."""
    del months
    demo = DEMO_PRACTICES[:count]
    slugs = [p.slug for p in demo]
    names = [p.name for p in demo]
    specialty = [SPECIALTIES.index(p.specialty) for p in demo]
    city = [p.city for p in demo]
    for number in range(len(demo), count):
        which_city = number % len(CITIES)
        which = (number * 5 + number // len(CITIES)) % len(SPECIALTIES)
        label = SPECIALTY_LABELS[SPECIALTIES[which]]
        kind = SPECIALTIES[which].replace("_", "-")
        slugs.append(f"{CITIES[which_city].slug}-{kind}-{number:04d}")
        names.append(f"{CITIES[which_city].name} {label} #{number}")
        specialty.append(which)
        city.append(which_city)
    cities = np.array(city, dtype=np.int64)
    zones = np.array([CITIES[c].timezone for c in city])
    now_local = np.array([_local_us(now.astimezone(UTC), z) for z in zones], dtype=np.int64)
    per_year = rng.uniform(50, 800, count)
    onboard_days = rng.integers(180, 271, count)
    # Most practices joined the agency 6-9 months ago; every sixth has not yet.
    onboarded = np.where(
        np.arange(count) % 6 == 5,
        _NEVER,
        (now_local // _DAY_US - onboard_days) * _DAY_US,
    )
    specialties = np.array(specialty, dtype=np.int64)
    case_value = np.array([typical_case_value(s) for s in SPECIALTIES])[specialties]
    return PracticeFrame(
        slug=np.array(slugs),
        name=np.array(names),
        specialty=specialties,
        city=cities,
        timezone=zones,
        per_year=per_year,
        base_rate=rng.uniform(0.10, 0.20, count),
        post_rate=rng.uniform(0.37, 0.44, count),
        onboarded_local=onboarded.astype(np.int64),
        now_local=now_local,
        bool_style=rng.integers(0, 5, count),
        time_style=rng.integers(0, 2, count),
        case_value=case_value,
        # 10-15 h/week for 50-80 treatments a year (PRODUCT.md), growing sub-linearly.
        hours=np.clip(np.round(12.5 * np.sqrt(per_year / 65)), 5, 60),
        patients=np.zeros(count, dtype=np.int64),
    )
