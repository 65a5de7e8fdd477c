"""The monthly client report: the practice's fee and report recipients, outbox attachments.

`practice_settings.monthly_fee` (the agency's monthly fee, USD; null = unknown),
`practice_settings.report_recipients` (extra recipients, comma-separated; null = none) and the
table `message_attachments` (files stored with an outbox message, e.g. the report PDF).
Idempotent: a store from before migrations already has what the legacy light migration added.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the two nullable columns and the attachments table where they are missing."""
    inspector = sa.inspect(op.get_bind())
    present = {column["name"] for column in inspector.get_columns("practice_settings")}
    if "monthly_fee" not in present:
        op.add_column("practice_settings", sa.Column("monthly_fee", sa.Float(), nullable=True))
    if "report_recipients" not in present:
        op.add_column("practice_settings",
                      sa.Column("report_recipients", sa.String(), nullable=True))
    if not inspector.has_table("message_attachments"):
        op.create_table(
            "message_attachments",
            sa.Column("attachment_id", sa.Integer(), nullable=False),
            sa.Column("message_id", sa.Integer(), nullable=False),
            sa.Column("filename", sa.String(length=200), nullable=False),
            sa.Column("content_type", sa.String(length=100), nullable=False),
            sa.Column("content", sa.LargeBinary(), nullable=False),
            sa.PrimaryKeyConstraint("attachment_id"),
        )
        op.create_index("ix_message_attachments_message_id", "message_attachments",
                        ["message_id"], unique=False)


def downgrade() -> None:
    """Drop the attachments table and the two columns."""
    op.drop_index("ix_message_attachments_message_id", table_name="message_attachments")
    op.drop_table("message_attachments")
    with op.batch_alter_table("practice_settings") as batch:
        batch.drop_column("report_recipients")
        batch.drop_column("monthly_fee")
