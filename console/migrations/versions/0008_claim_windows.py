"""Claim windows shared between processes (issue 14): the newest ranked, gated candidate list
of each claim scope, published by the process that ranked it, so claimers of other processes
pop it instead of ranking the same queue themselves (console/work/window.py). A cache only.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create claim_windows (unless a store created from the models already has it)."""
    if "claim_windows" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "claim_windows",
        sa.Column("scope_key", sa.String(length=64), nullable=False, primary_key=True),
        sa.Column("ranked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_wall", sa.Float(), nullable=False),
        sa.Column("publisher", sa.String(length=40), nullable=False),
        sa.Column("entries", sa.String(), nullable=False),
    )


def downgrade() -> None:
    """Drop claim_windows."""
    op.drop_table("claim_windows")
