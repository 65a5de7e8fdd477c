"""Outreach replies and delivery status (issue 16): per-message reply/unsubscribe identity and the
HTML part of emails, de-duplicated inbound provider messages, the practice's HTML ask template,
and addresses that do not work.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _columns(table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}


def _indexes(table: str) -> set[str]:
    return {str(index["name"]) for index in sa.inspect(op.get_bind()).get_indexes(table)}


def upgrade() -> None:
    """Add the nullable columns, their unique indexes and the undeliverable-address table.

    Each step is skipped where it is already done: a store from before migrations is brought
    up by the old light migration, which adds whatever the current models declare, and only
    then stamped at the initial revision.
    """
    added = {
        "messages": [sa.Column("delivery_key", sa.String(length=40), nullable=True),
                     sa.Column("body_html", sa.String(), nullable=True),
                     sa.Column("unsubscribe_url", sa.String(), nullable=True)],
        "inbound_replies": [sa.Column("provider_message_id", sa.String(length=200),
                                      nullable=True)],
        "outreach_settings": [sa.Column("ask_email_html", sa.String(), nullable=True)],
    }
    for table, columns in added.items():
        present = _columns(table)
        for column in columns:
            if column.name not in present:
                op.add_column(table, column)
    if "ix_messages_delivery_key" not in _indexes("messages"):
        op.create_index(op.f("ix_messages_delivery_key"), "messages", ["delivery_key"],
                        unique=True)
    if "ux_inbound_provider_message" not in _indexes("inbound_replies"):
        op.create_index("ux_inbound_provider_message", "inbound_replies",
                        ["channel", "provider_message_id"], unique=True)
    if not sa.inspect(op.get_bind()).has_table("undeliverable_addresses"):
        op.create_table(
            "undeliverable_addresses",
            sa.Column("practice_slug", sa.String(length=64), nullable=False),
            sa.Column("channel", sa.String(length=10), nullable=False),
            sa.Column("address", sa.String(length=320), nullable=False),
            sa.Column("reason", sa.String(length=200), nullable=False),
            sa.Column("message_id", sa.Integer(), nullable=True),
            sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("practice_slug", "channel", "address"),
        )
    if "ix_undeliverable_address" not in _indexes("undeliverable_addresses"):
        op.create_index("ix_undeliverable_address", "undeliverable_addresses",
                        ["channel", "address"], unique=False)


def downgrade() -> None:
    """Remove what `upgrade` added."""
    op.drop_index("ix_undeliverable_address", table_name="undeliverable_addresses")
    op.drop_table("undeliverable_addresses")
    with op.batch_alter_table("outreach_settings") as batch:
        batch.drop_column("ask_email_html")
    op.drop_index("ux_inbound_provider_message", table_name="inbound_replies")
    with op.batch_alter_table("inbound_replies") as batch:
        batch.drop_column("provider_message_id")
    op.drop_index(op.f("ix_messages_delivery_key"), table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("unsubscribe_url")
        batch.drop_column("body_html")
        batch.drop_column("delivery_key")
