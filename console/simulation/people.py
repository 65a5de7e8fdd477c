"""The simulated people: whether a call is answered, what is said, whether a lead books.

Every draw is a uniform number derived from (seed, person, purpose, n) by hashing, so the same
person facing the same question gets the same draw under every policy (common random
numbers) and a seed gives the same run. Only the world's rates decide outcomes; nothing here
reads the queue's own estimates.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from console.models.work import Disposition, TaskKind
from console.simulation.world import People

_SCALE = float(2**64)


def uniform(seed: int, *parts: object) -> float:
    """A deterministic draw in [0, 1) for these parts (the common random number)."""
    text = "\x1f".join(str(part) for part in (seed, *parts)).encode()
    (value,) = struct.unpack("<Q", hashlib.blake2b(text, digest_size=8).digest())
    return value / _SCALE


@dataclass(frozen=True)
class Call:
    """What the simulator knows about a call it is about to make (no names, no phones)."""

    kind: str
    person: str  # a stable key: practice, subject type and id (or the sim's lead key)
    attempt: int  # the person's n-th call about this (1 = first)
    practice_tz: str
    category: str | None
    satisfaction: float | None
    lead_referred_at: datetime | None
    # What the call is for: the kind, or for a follow-up its chain's first kind (a retry of a
    # thank-you call thanks, a retry of a review request asks for a review).
    purpose: str = ""

    @property
    def aim(self) -> str:
        """The purpose, or the kind when none was given."""
        return self.purpose or self.kind


@dataclass(frozen=True)
class Outcome:
    """What happened: the disposition to log and the minutes it took."""

    disposition: str
    minutes: float


class PeopleModel:
    """The world's hidden truth turned into outcomes for calls and messages."""

    def __init__(self, people: People, seed: int) -> None:
        self.people = people
        self.seed = seed
        # Memos of pure functions of the world (the oracle orders every callable task at
        # every claim): the same values as computing them afresh.
        self._hour_rates: dict[tuple[datetime, str], float] = {}
        self._willing: dict[tuple[float, str | None], float] = {}
        self._lead_values: dict[tuple[float, float], float] = {}

    def draw(self, *parts: object) -> float:
        """A common random number for these parts."""
        return uniform(self.seed, *parts)

    def local_hour(self, at: datetime, zone: str) -> float:
        """The person's local time of day in hours."""
        moment = at.astimezone(ZoneInfo(zone))
        return moment.hour + moment.minute / 60.0

    def answer_at(self, at: datetime, zone: str) -> float:
        """P(a patient answers a first call) at `at` in `zone` (memoised for the last moment)."""
        key = (at, zone)
        rate = self._hour_rates.get(key)
        if rate is None:
            if len(self._hour_rates) > 64:
                self._hour_rates.clear()
            rate = self._hour_rates[key] = self.people.answer_at_hour(self.local_hour(at, zone))
        return rate

    def p_answer(self, call: Call, at: datetime) -> float:
        """P(the person answers this call now)."""
        decay = self.people.answer_decay_per_attempt ** max(0, call.attempt - 1)
        if call.kind == TaskKind.contact_lead:
            hours = 0.0
            if call.lead_referred_at is not None:
                hours = max(0.0, (at - call.lead_referred_at).total_seconds() / 3600.0)
            half = self.people.lead_answer_half_life_hours
            return self.people.lead_answer_at_zero_hours * 0.5 ** (hours / half) * decay
        return self.answer_at(at, call.practice_tz) * decay

    def p_willing(self, satisfaction: float | None, category: str | None) -> float:
        """P(willing to refer | reached), by satisfaction (unknown counts as 5) and category."""
        score = 5.0 if satisfaction is None or math.isnan(satisfaction) else satisfaction
        key = (score, category)
        found = self._willing.get(key)
        if found is None:
            base = self.people.willing_base + self.people.willing_per_satisfaction_point * (
                score - 5.0)
            factor = self.people.by_category.get(category or "", 1.0)
            found = self._willing[key] = min(1.0, max(0.0, base * factor))
        return found

    def minutes(self, kind: str, answered: bool, person: str, attempt: int) -> float:
        """Call length: the kind's minutes ±25 % when answered, a short try otherwise."""
        if not answered:
            return self.people.unanswered_call_minutes
        spread = 0.75 + 0.5 * self.draw(person, kind, attempt, "minutes")
        return round(self.people.call_minutes[kind] * spread, 1)

    def call(self, call: Call, at: datetime) -> Outcome:
        """The outcome of one call made at `at`."""
        answered = self.draw(call.person, call.kind, call.attempt, "answer") < self.p_answer(
            call, at)
        minutes = self.minutes(call.kind, answered, call.person, call.attempt)
        if not answered:
            voicemail = self.draw(call.person, call.attempt, "vm") < 0.5
            missed = Disposition.voicemail if voicemail else Disposition.no_answer
            return Outcome(missed, minutes)
        if call.kind == TaskKind.contact_lead:
            booked = self.draw(call.person, "book") < self.people.lead_book_rate
            return Outcome(Disposition.lead_booked if booked else Disposition.lead_declined,
                           minutes)
        if call.aim == TaskKind.close_loop:
            return Outcome(Disposition.loop_closed, minutes)
        if call.aim == TaskKind.review_request:
            return Outcome(Disposition.willing_no_name, minutes)
        if self.draw(call.person, "willing") >= self.p_willing(call.satisfaction, call.category):
            return Outcome(Disposition.declined, minutes)
        names = self.draw(call.person, "names") < self.people.names_friend_given_willing
        return Outcome(Disposition.referred if names else Disposition.willing_no_name, minutes)

    def replies_to_email(self, person: str) -> bool:
        """Whether a patient replies to an automated ask (and then names a friend)."""
        return self.draw(person, "email_reply") < self.people.email_reply_rate

    def refers_again(self, person: str, loop_closed: bool) -> bool:
        """Whether a referrer refers another friend (more often once thanked)."""
        rate = self.people.repeat_referral_rate
        if loop_closed:
            rate = min(1.0, rate * self.people.repeat_referral_boost_loop_closed)
        return self.draw(person, "repeat") < rate

    def expected_lead_value(self, case_value: float, delay_hours: float = 2.0) -> float:
        """The true expected booked revenue of a fresh lead called after `delay_hours`."""
        key = (case_value, delay_hours)
        found = self._lead_values.get(key)
        if found is None:
            found = self._lead_values[key] = self._lead_value(case_value, delay_hours)
        return found

    def _lead_value(self, case_value: float, delay_hours: float) -> float:
        people = self.people
        reach = people.lead_answer_at_zero_hours * 0.5 ** (
            delay_hours / people.lead_answer_half_life_hours)
        # Up to four tries; each further try is answered less.
        missed, total = 1.0, 0.0
        for attempt in range(4):
            p = min(1.0, reach * people.answer_decay_per_attempt ** attempt)
            total += missed * p
            missed *= 1.0 - p
        return total * people.lead_book_rate * case_value

    def true_value_per_minute(self, call: Call, at: datetime, case_value: float) -> float:
        """The oracle's order: true expected referred revenue per minute of this call now."""
        p = self.p_answer(call, at)
        minutes = (p * self.people.call_minutes[call.kind]
                   + (1.0 - p) * self.people.unanswered_call_minutes)
        if call.kind == TaskKind.contact_lead:
            value = p * self.people.lead_book_rate * case_value
        elif call.aim in (TaskKind.ask, TaskKind.follow_up):
            value = (p * self.p_willing(call.satisfaction, call.category)
                     * self.people.names_friend_given_willing
                     * self.expected_lead_value(case_value))
        elif call.aim == TaskKind.close_loop:
            extra = self.people.repeat_referral_rate * (
                self.people.repeat_referral_boost_loop_closed - 1.0)
            value = p * max(0.0, extra) * self.expected_lead_value(case_value)
        else:
            value = p * 1e-6 * case_value
        return value / max(minutes, 0.1)
