-- grain: one row per (practice, file) feed: loading, paused or broken
-- key: practice_slug, file

with feed_status as (
    select * from raw.feed_status
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,  -- practice
        cast(file as varchar) as file,                    -- file name
        cast(status as varchar) as status,                -- ok, paused, error
        cast(message as varchar) as message,              -- clear reason when not ok
        cast(checked_at as timestamptz) as checked_at     -- last checked
    from feed_status
)

select * from final
