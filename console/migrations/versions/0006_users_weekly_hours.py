"""A coordinator's weekly hours (the schedule a manager sets on Capacity, issue 11).

Nullable: NULL means the agency default of 40 hours (console.views.capacity). A store from
before migrations gets the column from the light migration that precedes its stamp, so the
upgrade skips a column already there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add users.weekly_hours (unless a pre-migration store's light migration already did)."""
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("users")}
    if "weekly_hours" in present:
        return
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("weekly_hours", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop users.weekly_hours."""
    with op.batch_alter_table("users") as batch:
        batch.drop_column("weekly_hours")
