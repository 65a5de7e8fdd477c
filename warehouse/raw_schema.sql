-- The raw store (warehouse/raw.duckdb): written only by `loopdesk ingest` (pipelines) and by the
-- operational-event export of `loopdesk build`. Models read these tables; the console never does.
-- All timestamps are UTC instants (timestamptz); naive export timestamps were read in the
-- practice's time zone before they got here.

-- one row per practice (natural key practice_slug)
create table if not exists raw_practices (
    practice_slug varchar primary key,
    name varchar not null,
    specialty varchar not null,
    timezone varchar not null,
    contracted_hours_per_week double not null,
    onboarded_at timestamptz,
    source_format varchar,    -- canonical, fhir, opendental; null = told by the folder's files
    monthly_fee double,
    _row_hash ubigint not null,
    _source_file varchar not null,
    _source_line integer not null,
    _loaded_at timestamptz not null
);

-- one high-water mark per (practice, source table) of a live read (Open Dental DateTStamp)
create table if not exists source_watermarks (
    practice_slug varchar not null,
    source varchar not null,          -- opendental
    table_name varchar not null,      -- patient, procedurelog, refattach, ...
    high_water varchar not null,      -- the largest DateTStamp read, as the database wrote it
    updated_at timestamptz not null,
    primary key (practice_slug, source, table_name)
);

-- The three big tables carry no primary-key index: DuckDB keeps an ART index wholly in memory
-- (240 MB at 1,000 practices, growing with every row), and ingest never needs one — validation
-- keeps one row per key per file, `apply_rows` inserts only keys the table lacks, and the build's
-- unique checks on mart_patients / mart_treatments / mart_leads would fail on a repeat.
-- `warehouse.raw_store.drop_raw_key_indexes` rebuilds a store made with the old keyed tables.

-- one row per (practice_slug, patient_id)
create table if not exists raw_patients (
    practice_slug varchar not null,
    patient_id varchar not null,
    first_name varchar,
    last_name varchar,
    phone varchar,            -- E.164, null when blank
    email varchar,            -- lower-cased, null when blank
    consent_call boolean not null,
    consent_text boolean not null,
    consent_email boolean not null,
    do_not_contact boolean not null,
    satisfaction_score integer,  -- 0..10, null when unknown
    updated_at timestamptz,
    _row_hash ubigint not null,
    _source_file varchar not null,
    _source_line integer not null,
    _source_format varchar,   -- canonical, fhir, opendental: the reader that made the row
    _loaded_at timestamptz not null
);

-- one row per (practice_slug, treatment_id)
create table if not exists raw_treatments (
    practice_slug varchar not null,
    treatment_id varchar not null,
    patient_id varchar not null,
    treatment_code varchar not null,
    category varchar not null,
    description varchar,
    value double not null,             -- USD, >= 0
    completed_at timestamptz not null,
    results_visible_at timestamptz,    -- null = derive from the category lag in staging
    _row_hash ubigint not null,
    _source_file varchar not null,
    _source_line integer not null,
    _source_format varchar,   -- canonical, fhir, opendental: the reader that made the row
    _loaded_at timestamptz not null
);

-- one row per (practice_slug, lead_id)
create table if not exists raw_referrals (
    practice_slug varchar not null,
    lead_id varchar not null,
    referrer_patient_id varchar,
    lead_first_name varchar,
    lead_last_name varchar,
    lead_phone varchar,
    lead_email varchar,
    referred_at timestamptz not null,
    status varchar not null,           -- new, contacted, booked, treated, declined, unreachable
    status_at timestamptz,
    booked_value double,
    became_patient_id varchar,
    _row_hash ubigint not null,
    _source_file varchar not null,
    _source_line integer not null,
    _source_format varchar,   -- canonical, fhir, opendental: the reader that made the row
    _loaded_at timestamptz not null
);

-- one row per rejected input row (or per rejected file, with line 0)
create table if not exists quarantine (
    run_id varchar not null,
    practice_slug varchar,
    file varchar not null,
    line integer not null,
    "column" varchar,
    reason varchar not null,
    raw_record varchar,
    quarantined_at timestamptz not null
);

-- one row per (practice_slug, file): is this feed loading, paused, or broken?
create table if not exists feed_status (
    practice_slug varchar not null,
    file varchar not null,
    status varchar not null,           -- ok, paused, error
    message varchar,
    checked_at timestamptz not null,
    primary key (practice_slug, file)
);

-- one row per ingest run
create table if not exists ingest_runs (
    run_id varchar primary key,
    started_at timestamptz not null,
    finished_at timestamptz,
    summary_json varchar
);

-- Light migration for raw stores made before these columns existed. raw_practices rows report
-- `updated` once, on the next ingest of practices.csv (the row hash covers source_format and
-- monthly_fee);
-- `_source_format` is provenance, not hashed: older rows stay null and stage as canonical.
alter table raw_practices add column if not exists source_format varchar;
alter table raw_patients add column if not exists _source_format varchar;
alter table raw_treatments add column if not exists _source_format varchar;
alter table raw_referrals add column if not exists _source_format varchar;
alter table raw_practices add column if not exists monthly_fee double;
