"""The audit log appends without the chain lock: rows get a database-assigned `id` (the new
primary key) and join the hash chain later, when the sealer gives them `seq`, `prev_hash` and
`hash` (issue 14). Existing rows are all sealed: they keep their `seq` and hashes (the hashed
content is unchanged, so old chains verify as before) and get `id = seq`.

The table is rebuilt (SQLite cannot change a primary key in place): a new table is created,
the rows copied, the old table dropped and the new one renamed. A store whose `audit_events`
already has `id` as its primary key (created from the models) is left alone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_CONTENT = "occurred_at, actor, action, practice_slug, object_ref, outcome"
_INDEXED = ("occurred_at", "action", "practice_slug")


def _columns(*, sealed_nullable: bool) -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer(), nullable=False, primary_key=True, autoincrement=True),
        sa.Column("seq", sa.Integer(), nullable=sealed_nullable),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("practice_slug", sa.String(length=64), nullable=True),
        sa.Column("object_ref", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=sealed_nullable),
        sa.Column("hash", sa.String(length=64), nullable=sealed_nullable),
    ]


def upgrade() -> None:
    """Rebuild audit_events with `id` as its primary key and the chain columns nullable."""
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if inspector.get_pk_constraint("audit_events").get("constrained_columns") == ["id"]:
        return
    postgres = bind.dialect.name == "postgresql"
    op.create_table("audit_events_0007", *_columns(sealed_nullable=True),
                    sa.UniqueConstraint("prev_hash"))
    op.execute(f"insert into audit_events_0007 (id, seq, {_CONTENT}, prev_hash, hash) "
               f"select seq, seq, {_CONTENT}, prev_hash, hash from audit_events")
    op.drop_table("audit_events")  # and its indexes
    op.rename_table("audit_events_0007", "audit_events")
    if postgres:
        op.execute("alter sequence audit_events_0007_id_seq rename to audit_events_id_seq")
        op.execute("alter table audit_events rename constraint audit_events_0007_pkey "
                   "to audit_events_pkey")
        op.execute("alter table audit_events rename constraint "
                   "audit_events_0007_prev_hash_key to audit_events_prev_hash_key")
        op.execute("select setval('audit_events_id_seq', "
                   "coalesce((select max(id) from audit_events), 0) + 1, false)")
    for name in _INDEXED:
        op.create_index(f"ix_audit_events_{name}", "audit_events", [name], unique=False)
    op.create_index("ix_audit_events_seq", "audit_events", ["seq"], unique=True)
    op.create_index("ix_audit_events_unsealed", "audit_events", ["id"], unique=False,
                    sqlite_where=sa.text("seq is null"), postgresql_where=sa.text("seq is null"))


def downgrade() -> None:
    """Back to `seq` as the key; unsealed rows cannot be kept (seal before downgrading)."""
    op.execute("delete from audit_events where seq is null")
    for name in (*_INDEXED, "seq", "unsealed"):
        op.drop_index(f"ix_audit_events_{name}", table_name="audit_events")
    with op.batch_alter_table("audit_events", recreate="always") as batch:
        batch.drop_column("id")
        batch.alter_column("seq", nullable=False)
        batch.alter_column("prev_hash", nullable=False)
        batch.alter_column("hash", nullable=False)
        batch.create_primary_key("audit_events_pkey", ["seq"])
    for name in _INDEXED:
        op.create_index(f"ix_audit_events_{name}", "audit_events", [name], unique=False)
