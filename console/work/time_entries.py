"""Time entries: coordinator minutes spent on a practice outside calls (admin touches)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlmodel import Session

from console.identity import audit
from console.identity.access import CurrentUser, require_role
from console.identity.audit import Action, Outcome
from console.models.identity import Role
from console.models.practice import PracticeSettings
from console.models.work import Touch
from console.platform.errors import NotAuthorised, UserError

# One entry covers at most a working day; longer spans are split by the coordinator.
MAX_MINUTES = 480.0
MAX_NOTE_CHARS = 2000
TIME_ENTRY_ROLES = (Role.coordinator, Role.manager, Role.admin)
ADMIN_CHANNEL = "admin"


def _checked_minutes(minutes: float) -> float:
    """The minutes if inside (0, 480], else a user error (NaN and infinities included)."""
    if not math.isfinite(minutes) or not 0 < minutes <= MAX_MINUTES:
        raise UserError(f"minutes must be more than 0 and at most {MAX_MINUTES:.0f}")
    return float(minutes)


def log_time(
    *,
    session: Session,
    user: CurrentUser,
    practice_slug: str,
    minutes: float,
    note: str | None,
    now: datetime,
) -> Touch:
    """Record `minutes` of non-call work for a practice as an audited admin touch; commits.

    The touch has channel `admin`, the practice as its subject and no person or task, so it
    counts toward hours delivered but never toward the contact gate or any funnel stage.
    """
    require_role(user, TIME_ENTRY_ROLES)
    spent = _checked_minutes(minutes)
    if not user.scope.allows(practice_slug):
        # Refusals are audited too: a coordinator logging time to someone else's client.
        audit.record(session=session, actor=user.actor, action=Action.time_entry,
                     practice_slug=practice_slug, object_ref=None, outcome=Outcome.denied,
                     now=now)
        session.commit()
        raise NotAuthorised("you do not have access to that practice")
    if session.get(PracticeSettings, practice_slug) is None:
        raise UserError(f"no practice {practice_slug!r}")
    text = (note or "").strip()
    if len(text) > MAX_NOTE_CHARS:
        raise UserError(f"the note is longer than {MAX_NOTE_CHARS} characters")
    touch = Touch(
        task_id=None, practice_slug=practice_slug, subject_type="practice",
        subject_id=practice_slug, coordinator_id=user.user_id, channel=ADMIN_CHANNEL,
        disposition=None, notes=text, minutes=spent,
        started_at=now - timedelta(minutes=spent), ended_at=now,
    )
    session.add(touch)
    session.flush()
    audit.record(session=session, actor=user.actor, action=Action.time_entry,
                 practice_slug=practice_slug, object_ref=f"touch:{touch.touch_id}",
                 outcome=Outcome.success, now=now)
    session.commit()
    return touch
