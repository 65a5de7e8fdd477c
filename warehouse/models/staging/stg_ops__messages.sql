-- grain: one row per outbound message of the console's outbox
-- key: message_id

with source as (
    select * from raw.ops_messages
),

final as (
    select
        cast(message_id as bigint) as message_id,             -- outbox id
        cast(practice_slug as varchar) as practice_slug,      -- practice
        cast(patient_id as varchar) as patient_id,            -- recipient when a patient
        cast(lead_id as varchar) as lead_id,                  -- recipient or subject lead
        cast(purpose as varchar) as purpose,                  -- ask, loop_close, opt_out_confirmation
        cast(channel as varchar) as channel,                  -- sms, email
        cast(status as varchar) as status,                    -- queued, sent, failed, replied
        cast(created_at as timestamptz) as created_at,        -- queued
        cast(sent_at as timestamptz) as sent_at,              -- sent, nullable
        cast(replied_at as timestamptz) as replied_at         -- reply received, nullable
    from source
)

select * from final
