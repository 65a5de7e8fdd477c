-- grain: one row per Open Dental `refattach` row with RefType 1 (a referred friend): one lead
-- key: practice_slug, lead_id
-- partition: practice_slug
-- materialized: view
-- A view (casts over the raw table, read where used): as temp tables the staging models held
-- ~0.7 of the build's 1 GB at 1,000 practices, and every join after them spilled.
-- Mapped by pipelines/source_opendental.py: referrer = referral.PatNum (0 = unknown source), friend's
-- patient row for contact details, status from completed procedures then RefToStatus.

with source as (
    select * from raw.raw_referrals
    where _source_format = 'opendental'
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,              -- practice
        cast(lead_id as varchar) as lead_id,                          -- id from the export
        cast(referrer_patient_id as varchar) as referrer_patient_id,  -- null = unknown source
        cast(lead_first_name as varchar) as lead_first_name,          -- PHI
        cast(lead_last_name as varchar) as lead_last_name,            -- PHI
        cast(lead_phone as varchar) as lead_phone,                    -- E.164
        cast(lead_email as varchar) as lead_email,                    -- lower-cased
        cast(referred_at as timestamptz) as referred_at,              -- lead created
        cast(lower(trim(status)) as varchar) as status,               -- export's lead status
        cast(status_at as timestamptz) as status_at,                  -- when it got that status
        cast(booked_value as double) as booked_value,                 -- USD when booked/treated
        cast(became_patient_id as varchar) as became_patient_id,      -- the patient it became
        cast('export' as varchar) as source                           -- where the lead came from
    from source
)

select * from final
