-- grain: one row per lead captured in the console (coordinator capture or referral-link form)
-- key: practice_slug, lead_id

with source as (
    select * from raw.ops_leads
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,                  -- practice
        cast(lead_id as varchar) as lead_id,                              -- console lead id
        cast(referrer_patient_id as varchar) as referrer_patient_id,      -- referring patient
        cast(source as varchar) as source,                                -- coordinator, link
        cast(referred_at as timestamptz) as referred_at,                  -- lead captured
        cast(lower(trim(status)) as varchar) as status,                   -- lead status
        cast(status_at as timestamptz) as status_at,                      -- when it got that status
        cast(booked_value as double) as booked_value,                     -- USD when booked/treated
        cast(duplicate_of_lead_id as varchar) as duplicate_of_lead_id,    -- set when de-duplicated
        cast(matched_patient_id as varchar) as matched_patient_id         -- set when already a patient
    from source
)

select * from final
