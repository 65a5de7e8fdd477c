-- grain: one row per lead status change made in the console (no key: two changes may share an instant)

with source as (
    select * from raw.ops_lead_events
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,      -- practice
        cast(lead_id as varchar) as lead_id,                  -- export or console lead
        cast(lower(trim(event)) as varchar) as event,         -- contacted, booked, treated, declined, unreachable, loop_closed
        cast("at" as timestamptz) as event_at,                -- when it happened
        cast(booked_value as double) as booked_value          -- USD for booked/treated
    from source
)

select * from final
