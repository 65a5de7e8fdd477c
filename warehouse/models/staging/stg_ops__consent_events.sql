-- grain: one row per consent change recorded in the console (opt-out, re-consent)

with source as (
    select * from raw.ops_consent_events
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,      -- practice
        cast(subject_type as varchar) as subject_type,        -- patient, lead
        cast(subject_id as varchar) as subject_id,            -- patient_id or lead_id
        cast(channel as varchar) as channel,                  -- call, text, email
        cast(granted as boolean) as granted,                  -- true = consent given, false = revoked
        cast(source as varchar) as source,                    -- what recorded it
        cast("at" as timestamptz) as event_at                 -- when it happened
    from source
)

select * from final
