-- grain: one row per rejected input row (or rejected file, line 0), as ingest recorded it

with quarantine as (
    select * from raw.quarantine
),

final as (
    select
        cast(run_id as varchar) as run_id,                        -- ingest run
        cast(practice_slug as varchar) as practice_slug,          -- null for agency-level files
        cast(file as varchar) as file,                            -- file name
        cast(line as integer) as line,                            -- physical line, 0 = whole file
        cast("column" as varchar) as column_name,                 -- offending column, nullable
        cast(reason as varchar) as reason,                        -- why it was rejected
        cast(raw_record as varchar) as raw_record,                -- the row as read (PHI)
        cast(quarantined_at as timestamptz) as quarantined_at     -- when
    from quarantine
)

select * from final
