-- grain: one row per touch: a logged call or an automated message (columns as warehouse/ops_schema.sql)
-- key: touch_id

with source as (
    select * from raw.ops_touches
),

final as (
    select
        cast(touch_id as bigint) as touch_id,                 -- console touch id
        cast(task_id as bigint) as task_id,                   -- task worked, nullable
        cast(practice_slug as varchar) as practice_slug,      -- practice
        cast(patient_id as varchar) as patient_id,            -- person touched when a patient
        cast(lead_id as varchar) as lead_id,                  -- person touched when a lead
        cast(task_kind as varchar) as task_kind,              -- kind of the task worked
        cast(coordinator_id as bigint) as coordinator_id,     -- null for automated touches
        cast(channel as varchar) as channel,                  -- call, sms, email
        cast(disposition as varchar) as disposition,          -- DOMAIN.md disposition, 'replied'
        cast(minutes as double) as minutes,                   -- coordinator minutes spent
        cast(started_at as timestamptz) as started_at,        -- touch started
        cast(ended_at as timestamptz) as ended_at             -- touch ended
    from source
)

select * from final
