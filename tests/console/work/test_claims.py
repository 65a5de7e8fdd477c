"""Claims: leases with fencing tokens, expiry, escalation, release/snooze and tenant scope."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from console.identity.access import current_user
from console.models.identity import Role
from console.models.work import Task
from console.work.claims import StaleClaim, claim_next, list_queue, release, snooze
from console.work.dispositions import log_disposition
from tests.factories import NOW, add_practice, add_user, add_worker, session_for, sqlite_engine
from tests.factories import add_task as make_task

LEASE = timedelta(minutes=15)  # settings.lease_minutes default


def _log(session: object, user: object, task: Task, version: int, now: object) -> object:
    return log_disposition(session=session, user=user, task_id=task.task_id or 0,  # type: ignore[arg-type]
                           claim_version=version, disposition="no_answer", minutes=3, notes="",
                           callback_at=None, lead=None, now=now)  # type: ignore[arg-type]


def test_claim_is_a_lease_with_a_version(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        task = make_task(session, practice)
        user = add_worker(session, practices=["smile-ny"])
        claimed = claim_next(session=session, user=user, now=NOW)
        assert claimed is not None and claimed.task_id == task.task_id
        assert claimed.status == "claimed" and claimed.claimed_by == user.user_id
        assert claimed.claim_version == 1 and claimed.lease_expires_at == NOW + LEASE


def test_expired_holders_late_disposition_is_refused_new_holders_accepted(
    loopdesk_home: Path,
) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        task = make_task(session, practice)
        first = add_worker(session, practices=["smile-ny"])
        second = add_worker(session, practices=["smile-ny"])
        mine = claim_next(session=session, user=first, now=NOW)
        assert mine is not None
        later = NOW + LEASE + timedelta(minutes=1)
        theirs = claim_next(session=session, user=second, now=later)
        assert theirs is not None and theirs.task_id == task.task_id
        assert theirs.claim_version == 2
        with pytest.raises(StaleClaim):
            _log(session, first, task, 1, later)
        result = _log(session, second, task, 2, later)
        assert result.task_status == "done"  # type: ignore[attr-defined]
        # The refused write left no trace: one touch, by the second holder.
        stored = session.get(Task, task.task_id, populate_existing=True)
        assert stored is not None and stored.close_reason == "no_answer"


def test_same_holder_with_a_stale_version_is_refused(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        task = make_task(session, practice)
        user = add_worker(session, practices=["smile-ny"])
        claim_next(session=session, user=user, now=NOW)
        claim_next(session=session, user=user, now=NOW + LEASE + timedelta(seconds=1))
        with pytest.raises(StaleClaim, match="stale"):
            _log(session, user, task, 1, NOW + LEASE + timedelta(minutes=2))


def test_expired_lease_returns_to_queue_and_third_lapse_escalates(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        task = make_task(session, practice)
        coordinator = add_worker(session, practices=["smile-ny"])
        manager = add_worker(session, role=Role.manager)
        when = NOW
        for _ in range(3):
            claimed = claim_next(session=session, user=coordinator, now=when)
            assert claimed is not None and claimed.task_id == task.task_id
            when += LEASE + timedelta(minutes=1)
        assert claim_next(session=session, user=coordinator, now=when) is None
        assert list_queue(session=session, user=coordinator, now=when) == []
        escalated = list_queue(session=session, user=manager, now=when)
        assert [e.task_id for e in escalated] == [task.task_id] and escalated[0].escalated
        taken = claim_next(session=session, user=manager, now=when)
        assert taken is not None and taken.task_id == task.task_id


def test_release_and_snooze_need_the_current_version(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        task = make_task(session, practice)
        user = add_worker(session, practices=["smile-ny"])
        claimed = claim_next(session=session, user=user, now=NOW)
        assert claimed is not None
        with pytest.raises(StaleClaim):
            release(session=session, user=user, task_id=claimed.task_id or 0, claim_version=7,
                    now=NOW)
        release(session=session, user=user, task_id=claimed.task_id or 0, claim_version=1,
                now=NOW)
        again = claim_next(session=session, user=user, now=NOW)
        assert again is not None and again.claim_version == 2
        snooze(session=session, user=user, task_id=task.task_id or 0, claim_version=2,
               until=NOW + timedelta(hours=2), now=NOW)
        assert claim_next(session=session, user=user, now=NOW + timedelta(hours=1)) is None
        back = claim_next(session=session, user=user, now=NOW + timedelta(hours=2))
        assert back is not None and back.task_id == task.task_id


def test_users_only_see_and_claim_their_practices(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        mine = add_practice(session, "mine")
        theirs = add_practice(session, "theirs")
        own = make_task(session, mine, case_value=100)
        make_task(session, theirs, case_value=90000)
        coordinator = add_worker(session, practices=["mine"])
        owner = add_worker(session, role=Role.client_owner, practices=["theirs"])
        stranger = add_worker(session)
        inactive = add_user(session, practices=["theirs"], active=False)
        assert [e.practice_slug for e in list_queue(session=session, user=coordinator,
                                                    now=NOW)] == ["mine"]
        for nobody in (owner, stranger):
            assert list_queue(session=session, user=nobody, now=NOW) == []
            assert claim_next(session=session, user=nobody, now=NOW) is None
        # An inactive account has no acting user at all: nothing can list or claim for it.
        assert current_user(session=session, user_id=inactive.user_id or 0) is None
        claimed = claim_next(session=session, user=coordinator, now=NOW)
        assert claimed is not None and claimed.task_id == own.task_id
        assert claim_next(session=session, user=coordinator, now=NOW) is None
        admin = add_worker(session, role=Role.admin)
        assert [e.practice_slug for e in list_queue(session=session, user=admin,
                                                    now=NOW)] == ["theirs"]


def test_a_candidate_taken_after_ranking_is_passed_over(loopdesk_home: Path) -> None:
    from console.work.claims import _lease_first_free
    from console.work.ranking import ranked
    from warehouse.scope import Scope

    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        best = make_task(session, practice, case_value=9000)
        second = make_task(session, practice, case_value=100)
        me = add_worker(session, practices=["smile-ny"])
        rival = add_worker(session, practices=["smile-ny"])
        scored, _ = ranked(session, scope=Scope.of(["smile-ny"]), now=NOW, callable_only=True,
                           escalated=False, wanted=2)
        assert [s.row.task_id for s in scored] == [best.task_id, second.task_id]
        session.rollback()
        taken = claim_next(session=session, user=rival, now=NOW)
        assert taken is not None and taken.task_id == best.task_id
        row = _lease_first_free(session, user=me, batch=scored, escalated=False, now=NOW,
                                lease=LEASE)
        assert row is not None and row.task_id == second.task_id
        assert _lease_first_free(session, user=me, batch=scored[:1], escalated=False,
                                 now=NOW, lease=LEASE) is None
        session.commit()
        held = session.get(Task, best.task_id, populate_existing=True)
        assert held is not None and held.claimed_by == rival.user_id
