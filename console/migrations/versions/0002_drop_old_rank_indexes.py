"""Drop the rank indexes the models stopped declaring before migrations existed.

`ix_tasks_rank` and `ix_tasks_practice_rank` were replaced by the queue indexes (docs/queue.md);
stores created before that still carry them (the light migration never dropped anything).
`if exists`: a store created from revision 0001 never had them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Drop both indexes where they exist."""
    op.execute("drop index if exists ix_tasks_rank")
    op.execute("drop index if exists ix_tasks_practice_rank")


def downgrade() -> None:
    """Nothing to restore: the models never declare these indexes again."""
