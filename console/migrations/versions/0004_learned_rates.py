"""The queue's learned rates (issue 13): `learned_rates`, filled from mart_learned_rates on refresh.

Revision ID: 0004
Revises: 0003

(Renumbered from 0003 when issue 11 merged main: issues 13 and 15 had both added a revision
0003 on top of 0002, which left two heads. Idempotent, so a store that ran it as 0003 is fine.)
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table (refresh fills it at the next build; empty means nothing learned).

    A store made by `init_db` before migrations existed (create_all of the models) may have
    it already; then there is nothing to do.
    """
    if sa.inspect(op.get_bind()).has_table("learned_rates"):
        return
    op.create_table(
        "learned_rates",
        sa.Column("measure", sa.String(length=40), nullable=False),
        sa.Column("cell_group", sa.String(length=20), nullable=False),
        sa.Column("band", sa.String(length=40), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("trials", sa.Integer(), nullable=False),
        sa.Column("prior", sa.Float(), nullable=False),
        sa.Column("estimate", sa.Float(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("measure", "cell_group", "band"),
    )


def downgrade() -> None:
    """Drop it (the queue then ranks with the constants only)."""
    op.drop_table("learned_rates")
