"""The queue indexes hold open tasks only (issue 14): `ix_tasks_queue` and
`ix_tasks_practice_queue` become partial indexes `WHERE status = 'open'`, so a claim (open →
claimed, not a HOT update: status is indexed) writes 6 index entries instead of 8, and not the
two widest; closed tasks no longer fill them. Same columns (the ranking's index-only walks
are unchanged); the queries compare `status` with a literal so the planners can use them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# `status` moves from the front to the end of each key: the condition `status = 'open'` is
# implied by the index's own, so planners drop it from the scan's bounds and `kind` (after
# the practice) must lead the key; it stays in the key so SQLite finds the walk covering.
_QUEUE = ["kind", "rank_key", "sla_deadline", "due_at", "practice_tz", "escalated",
          "consent_call", "do_not_contact", "snoozed_until", "practice_slug", "task_id", "status"]
_PRACTICE_QUEUE = ["practice_slug", "kind", "rank_key", "sla_deadline", "due_at",
                   "practice_tz", "escalated", "consent_call", "do_not_contact",
                   "snoozed_until", "task_id", "status"]
_OLD_QUEUE = ["status", *_QUEUE[:-1]]
_OLD_PRACTICE_QUEUE = ["practice_slug", "status", *_PRACTICE_QUEUE[1:-1]]
_OPEN = sa.text("status = 'open'")


def _recreate(*, partial: bool) -> None:
    where = _OPEN if partial else None
    queue, practice_queue = ((_QUEUE, _PRACTICE_QUEUE) if partial
                             else (_OLD_QUEUE, _OLD_PRACTICE_QUEUE))
    for name, columns in (("ix_tasks_queue", queue),
                          ("ix_tasks_practice_queue", practice_queue)):
        op.execute(f"drop index if exists {name}")
        op.create_index(name, "tasks", columns, unique=False, sqlite_where=where,
                        postgresql_where=where)


def upgrade() -> None:
    """Rebuild both queue indexes as partial indexes over open tasks."""
    _recreate(partial=True)


def downgrade() -> None:
    """Rebuild them over every task."""
    _recreate(partial=False)
