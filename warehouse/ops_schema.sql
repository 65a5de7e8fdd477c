-- Operational events copied from the operational store into the raw store on every
-- `loopdesk build` (Arrow, replacing the previous copy wholesale). The console's exporter
-- (console/lifecycle/ops_export.py) writes exactly these columns; models and metrics read them.
-- Empty tables with this shape exist even before the first export.
-- (`"at"` is quoted because AT is a reserved word in DuckDB; the column is still named at.)

-- one row per task ever created
create table if not exists ops_tasks (
    task_id bigint not null,
    kind varchar not null,             -- ask, follow_up, contact_lead, close_loop, review_request
    practice_slug varchar not null,
    patient_id varchar,                -- subject when the task is about a patient
    lead_id varchar,                   -- subject when the task is about a lead
    treatment_id varchar,
    created_at timestamptz not null,
    due_at timestamptz,
    sla_deadline timestamptz,
    status varchar not null,           -- open, claimed, done, cancelled, escalated
    closed_at timestamptz,
    close_reason varchar
);

-- one row per touch: a logged call, or an automated message sent
create table if not exists ops_touches (
    touch_id bigint not null,
    task_id bigint,
    practice_slug varchar not null,
    patient_id varchar,
    lead_id varchar,
    task_kind varchar,
    coordinator_id bigint,             -- null for automated touches
    channel varchar not null,          -- call, sms, email
    disposition varchar,               -- DOMAIN.md dispositions; 'replied' for an inbound reply
    minutes double not null,
    started_at timestamptz not null,
    ended_at timestamptz
);

-- one row per lead captured in the console (coordinator capture or referral-link form)
create table if not exists ops_leads (
    practice_slug varchar not null,
    lead_id varchar not null,
    referrer_patient_id varchar,
    source varchar not null,           -- coordinator, link
    referred_at timestamptz not null,
    status varchar not null,           -- new, contacted, booked, treated, declined, unreachable
    status_at timestamptz,
    booked_value double,
    duplicate_of_lead_id varchar,      -- set when de-duplicated against an existing lead
    matched_patient_id varchar         -- set when the lead is already a patient
);

-- one row per lead status change made in the console (for export leads and captured leads)
create table if not exists ops_lead_events (
    practice_slug varchar not null,
    lead_id varchar not null,
    event varchar not null,            -- contacted, booked, treated, declined, unreachable, loop_closed
    "at" timestamptz not null,
    booked_value double
);

-- one row per consent change (opt-out by reply or disposition, re-consent)
create table if not exists ops_consent_events (
    practice_slug varchar not null,
    subject_type varchar not null,     -- patient, lead
    subject_id varchar not null,
    channel varchar not null,          -- call, text, email
    granted boolean not null,
    source varchar not null,
    "at" timestamptz not null
);

-- one row per outbound message
create table if not exists ops_messages (
    message_id bigint not null,
    practice_slug varchar not null,
    patient_id varchar,
    lead_id varchar,
    purpose varchar not null,          -- ask, loop_close, opt_out_confirmation
    channel varchar not null,          -- sms, email
    status varchar not null,           -- queued, sent, failed, replied
    created_at timestamptz not null,
    sent_at timestamptz,
    replied_at timestamptz
);
