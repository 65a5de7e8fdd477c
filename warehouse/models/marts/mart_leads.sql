-- grain: one row per lead
-- key: practice_slug, lead_id
-- partition: practice_slug

with leads as (
    select * from int_leads_outcomes
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,              -- practice
        cast(lead_id as varchar) as lead_id,                          -- export or console id
        cast(referrer_patient_id as varchar) as referrer_patient_id,  -- referring patient
        cast(lead_first_name as varchar) as lead_first_name,          -- PHI, export leads only
        cast(lead_last_name as varchar) as lead_last_name,            -- PHI, export leads only
        cast(lead_phone as varchar) as lead_phone,                    -- PHI, export leads only
        cast(lead_email as varchar) as lead_email,                    -- PHI, export leads only
        cast(source as varchar) as source,                            -- export, coordinator, link
        cast(referred_at as timestamptz) as referred_at,              -- lead created
        cast(status as varchar) as status,                            -- current status
        cast(status_at as timestamptz) as status_at,                  -- status time
        cast(booked_value as double) as booked_value,                 -- USD
        cast(became_patient_id as varchar) as became_patient_id,      -- patient it became
        cast(first_contact_at as timestamptz) as first_contact_at,    -- first contact attempt
        cast(has_outcome as boolean) as has_outcome,                  -- outcome known
        cast(outcome_at as timestamptz) as outcome_at,                -- outcome first known
        cast(loop_closed_at as timestamptz) as loop_closed_at,        -- referrer told
        cast(first_reached_at as timestamptz) as first_reached_at     -- first answered call
    from leads
)

select * from final
