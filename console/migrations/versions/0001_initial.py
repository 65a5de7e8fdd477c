"""The initial schema: the operational store as it stood when migrations began (issue 10).

Explicit operations (not `create_all`), generated once by Alembic's autogenerate from the
models of that day and kept as written; a later model change needs its own revision.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table and index of the initial schema."""
    op.create_table('audit_events',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('practice_slug', sa.String(length=64), nullable=True),
    sa.Column('object_ref', sa.String(length=128), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('prev_hash')
    )
    op.create_index(op.f('ix_audit_events_action'), 'audit_events', ['action'], unique=False)
    op.create_index(op.f('ix_audit_events_occurred_at'), 'audit_events', ['occurred_at'], unique=False)
    op.create_index(op.f('ix_audit_events_practice_slug'), 'audit_events', ['practice_slug'], unique=False)
    op.create_table('consent_events',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('practice_slug', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=10), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index('ix_consent_subject', 'consent_events', ['practice_slug', 'subject_type', 'subject_id'], unique=False)
    op.create_table('inbound_replies',
    sa.Column('reply_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('opt_out', sa.Boolean(), nullable=False),
    sa.Column('people_matched', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('reply_id')
    )
    op.create_table('lead_events',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('practice_slug', sa.String(length=64), nullable=False),
    sa.Column('lead_id', sa.String(length=64), nullable=False),
    sa.Column('event', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('booked_value', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index('ix_lead_events_lead', 'lead_events', ['practice_slug', 'lead_id'], unique=False)
    op.create_table('leads',
    sa.Column('practice_slug', sa.String(length=64), nullable=False),
    sa.Column('lead_id', sa.String(length=64), nullable=False),
    sa.Column('referrer_patient_id', sa.String(length=64), nullable=True),
    sa.Column('first_name', sa.String(), nullable=False),
    sa.Column('last_name', sa.String(), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('referred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('booked_value', sa.Float(), nullable=True),
    sa.Column('duplicate_of_lead_id', sa.String(length=64), nullable=True),
    sa.Column('matched_patient_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('practice_slug', 'lead_id')
    )
    op.create_table('login_attempts',
    sa.Column('attempt_id', sa.Integer(), nullable=False),
    sa.Column('email_key', sa.String(length=64), nullable=False),
    sa.Column('client_key', sa.String(length=64), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('attempt_id')
    )
    op.create_index('ix_login_attempts_client_time', 'login_attempts', ['client_key', 'attempted_at'], unique=False)
    op.create_index('ix_login_attempts_email_time', 'login_attempts', ['email_key', 'attempted_at'], unique=False)
    op.create_table('messages',
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('practice_slug', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=10), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=True),
    sa.Column('lead_id', sa.String(length=64), nullable=True),
    sa.Column('treatment_id', sa.String(length=64), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sa.String(length=30), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(), nullable=False),
    sa.Column('body', sa.String(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claim_token', sa.String(length=40), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('follow_up_checked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('message_id'),
    sa.UniqueConstraint('idempotency_key')
    )
    op.create_index('ix_messages_due', 'messages', ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_messages_recipient', 'messages', ['channel', 'recipient'], unique=False)
    op.create_index('ix_messages_subject', 'messages', ['practice_slug', 'subject_type', 'subject_id', 'status'], unique=False)
    op.create_table('outreach_settings',
    sa.Column('practice_slug', sa.String(length=64), nullable=False),
    sa.Column('ask_email_subject', sa.String(), nullable=True),
    sa.Column('ask_email_body', sa.String(), nullable=True),
    sa.Column('ask_sms_body', sa.String(), nullable=True),
    sa.Column('loop_close_body', sa.String(), nullable=True),
    sa.Column('outcome_detail', sa.String(length=12), nullable=False),
    sa.PrimaryKeyConstraint('practice_slug')
    )
    op.create_table('practice_settings',
    sa.Column('practice_slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('specialty', sa.String(), nullable=False),
    sa.Column('timezone', sa.String(), nullable=False),
    sa.Column('contracted_hours_per_week', sa.Float(), nullable=False),
    sa.Column('business_days', sa.String(), nullable=False),
    sa.Column('business_hours_start', sa.String(), nullable=False),
    sa.Column('business_hours_end', sa.String(), nullable=False),
    sa.Column('ask_sla_days', sa.Integer(), nullable=False),
    sa.Column('follow_up_sla_business_days', sa.Integer(), nullable=False),
    sa.Column('lead_sla_business_days', sa.Integer(), nullable=False),
    sa.Column('close_loop_sla_business_days', sa.Integer(), nullable=False),
    sa.Column('max_touches_per_day', sa.Integer(), nullable=False),
    sa.Column('max_touches_per_week', sa.Integer(), nullable=False),
    sa.Column('onboarded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('share_blurb', sa.String(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('avg_case_value', sa.Float(), nullable=True),
    sa.Column('lead_conversion', sa.Float(), nullable=True),
    sa.Column('p_refer_given_asked', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('practice_slug')
    )
    op.create_table('referral_codes',
    sa.Column('code_id', sa.String(length=40), nullable=False),
    sa.Column('practice_slug', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code_id'),
    sa.UniqueConstraint('practice_slug', 'patient_id', name='uq_referral_referrer')
    )
    op.create_table('referral_form_hits',
    sa.Column('hit_id', sa.Integer(), nullable=False),
    sa.Column('client_key', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('hit_id')
    )
    op.create_index('ix_form_hits_client', 'referral_form_hits', ['client_key', 'at'], unique=False)
    op.create_table('referral_submissions',
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('code_id', sa.String(length=40), nullable=False),
    sa.Column('practice_slug', sa.String(length=64), nullable=False),
    sa.Column('referrer_patient_id', sa.String(length=64), nullable=False),
    sa.Column('lead_id', sa.String(length=64), nullable=False),
    sa.Column('duplicate', sa.Boolean(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('submission_id')
    )
    op.create_table('report_links',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('practice_slug', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('jti')
    )
    op.create_index(op.f('ix_report_links_practice_slug'), 'report_links', ['practice_slug'], unique=False)
    op.create_table('tasks',
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('natural_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('practice_slug', sa.String(length=64), nullable=False),
    sa.Column('practice_tz', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=10), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=True),
    sa.Column('lead_id', sa.String(length=64), nullable=True),
    sa.Column('treatment_id', sa.String(length=64), nullable=True),
    sa.Column('referrer_patient_id', sa.String(length=64), nullable=True),
    sa.Column('source_task_id', sa.Integer(), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('case_value', sa.Float(), nullable=False),
    sa.Column('satisfaction_score', sa.Float(), nullable=True),
    sa.Column('consent_call', sa.Boolean(), nullable=False),
    sa.Column('do_not_contact', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sla_deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decay_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('p_success', sa.Float(), nullable=False),
    sa.Column('expected_minutes', sa.Float(), nullable=False),
    sa.Column('rank_key', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('claimed_by', sa.Integer(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claim_version', sa.Integer(), nullable=False),
    sa.Column('claim_count', sa.Integer(), nullable=False),
    sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('task_id'),
    sa.UniqueConstraint('natural_key')
    )
    op.create_index('ix_tasks_deadline', 'tasks', ['status', 'sla_deadline'], unique=False)
    op.create_index('ix_tasks_lease', 'tasks', ['status', 'lease_expires_at'], unique=False)
    op.create_index('ix_tasks_practice_deadline', 'tasks', ['practice_slug', 'status', 'sla_deadline'], unique=False)
    op.create_index('ix_tasks_practice_queue', 'tasks', ['practice_slug', 'status', 'kind', 'rank_key', 'sla_deadline', 'due_at', 'practice_tz', 'escalated', 'consent_call', 'do_not_contact', 'snoozed_until', 'task_id'], unique=False)
    op.create_index('ix_tasks_queue', 'tasks', ['status', 'kind', 'rank_key', 'sla_deadline', 'due_at', 'practice_tz', 'escalated', 'consent_call', 'do_not_contact', 'snoozed_until', 'practice_slug', 'task_id'], unique=False)
    op.create_index('ix_tasks_subject', 'tasks', ['practice_slug', 'subject_type', 'subject_id', 'status'], unique=False)
    op.create_table('touches',
    sa.Column('touch_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('practice_slug', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=10), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=True),
    sa.Column('lead_id', sa.String(length=64), nullable=True),
    sa.Column('treatment_id', sa.String(length=64), nullable=True),
    sa.Column('task_kind', sa.String(length=20), nullable=True),
    sa.Column('coordinator_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('disposition', sa.String(length=30), nullable=True),
    sa.Column('notes', sa.String(), nullable=False),
    sa.Column('minutes', sa.Float(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('touch_id')
    )
    op.create_index('ix_touches_practice_time', 'touches', ['practice_slug', 'started_at'], unique=False)
    op.create_index('ix_touches_subject', 'touches', ['practice_slug', 'subject_type', 'subject_id', 'started_at'], unique=False)
    op.create_index(op.f('ix_touches_task_id'), 'touches', ['task_id'], unique=False)
    op.create_table('users',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('role', sa.String(), nullable=False),
    sa.Column('password_hash', sa.String(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_index(op.f('ix_users_email'), 'users', ['email'], unique=True)
    op.create_table('user_practices',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('practice_slug', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.user_id'], ),
    sa.PrimaryKeyConstraint('user_id', 'practice_slug')
    )
    op.create_table('user_sessions',
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.user_id'], ),
    sa.PrimaryKeyConstraint('session_id')
    )
    op.create_index(op.f('ix_user_sessions_user_id'), 'user_sessions', ['user_id'], unique=False)


def downgrade() -> None:
    """Drop everything the initial schema created."""
    op.drop_index(op.f('ix_user_sessions_user_id'), table_name='user_sessions')
    op.drop_table('user_sessions')
    op.drop_table('user_practices')
    op.drop_index(op.f('ix_users_email'), table_name='users')
    op.drop_table('users')
    op.drop_index(op.f('ix_touches_task_id'), table_name='touches')
    op.drop_index('ix_touches_subject', table_name='touches')
    op.drop_index('ix_touches_practice_time', table_name='touches')
    op.drop_table('touches')
    op.drop_index('ix_tasks_subject', table_name='tasks')
    op.drop_index('ix_tasks_queue', table_name='tasks')
    op.drop_index('ix_tasks_practice_queue', table_name='tasks')
    op.drop_index('ix_tasks_practice_deadline', table_name='tasks')
    op.drop_index('ix_tasks_lease', table_name='tasks')
    op.drop_index('ix_tasks_deadline', table_name='tasks')
    op.drop_table('tasks')
    op.drop_index(op.f('ix_report_links_practice_slug'), table_name='report_links')
    op.drop_table('report_links')
    op.drop_table('referral_submissions')
    op.drop_index('ix_form_hits_client', table_name='referral_form_hits')
    op.drop_table('referral_form_hits')
    op.drop_table('referral_codes')
    op.drop_table('practice_settings')
    op.drop_table('outreach_settings')
    op.drop_index('ix_messages_subject', table_name='messages')
    op.drop_index('ix_messages_recipient', table_name='messages')
    op.drop_index('ix_messages_due', table_name='messages')
    op.drop_table('messages')
    op.drop_index('ix_login_attempts_email_time', table_name='login_attempts')
    op.drop_index('ix_login_attempts_client_time', table_name='login_attempts')
    op.drop_table('login_attempts')
    op.drop_table('leads')
    op.drop_index('ix_lead_events_lead', table_name='lead_events')
    op.drop_table('lead_events')
    op.drop_table('inbound_replies')
    op.drop_index('ix_consent_subject', table_name='consent_events')
    op.drop_table('consent_events')
    op.drop_index(op.f('ix_audit_events_practice_slug'), table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_occurred_at'), table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_action'), table_name='audit_events')
    op.drop_table('audit_events')
