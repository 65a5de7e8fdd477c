-- grain: one row per (practice, file) with quarantined rows or a feed status; practice_slug is null
-- for agency-level files such as practices.csv
-- quarantined_rows counts the rows of the latest ingest run that quarantined anything for that file.
-- Latest is a total order: the run's instant, then its id (under a pinned clock two runs share the
-- instant; the id breaks the tie the same way whatever order the store holds the rows in).

with quarantine as (
    select * from mart_quarantine
),

feeds as (
    select * from mart_feed_status
),

latest_runs as (
    select
        practice_slug,
        file,
        arg_max(run_id, (quarantined_at, run_id)) as run_id
    from quarantine
    group by practice_slug, file
),

quarantine_counts as (
    select
        quarantine.practice_slug,
        quarantine.file,
        count(*) filter (
            where quarantine.run_id = latest_runs.run_id
        ) as quarantined_rows,
        count(*) as quarantined_rows_all_runs,
        max(quarantine.quarantined_at) as last_quarantined_at,
        max(latest_runs.run_id) as last_quarantine_run_id
    from quarantine
    inner join latest_runs
        on
            latest_runs.practice_slug is not distinct from quarantine.practice_slug
            and quarantine.file = latest_runs.file
    group by quarantine.practice_slug, quarantine.file
),

joined as (
    select
        coalesce(feeds.practice_slug, quarantine_counts.practice_slug) as practice_slug,
        coalesce(feeds.file, quarantine_counts.file) as file,
        quarantine_counts.quarantined_rows,
        quarantine_counts.quarantined_rows_all_runs,
        quarantine_counts.last_quarantined_at,
        quarantine_counts.last_quarantine_run_id,
        feeds.status,
        feeds.message,
        feeds.checked_at
    from feeds
    full outer join quarantine_counts
        on
            quarantine_counts.practice_slug is not distinct from feeds.practice_slug
            and feeds.file = quarantine_counts.file
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,                              -- practice
        cast(file as varchar) as file,                                                -- file name
        cast(coalesce(quarantined_rows, 0) as bigint) as quarantined_rows,            -- latest run
        cast(coalesce(quarantined_rows_all_runs, 0) as bigint) as quarantined_rows_all_runs,
        cast(last_quarantined_at as timestamptz) as last_quarantined_at,              -- nullable
        cast(last_quarantine_run_id as varchar) as last_quarantine_run_id,            -- nullable
        cast(coalesce(status, 'unknown') as varchar) as feed_status,                  -- ok/paused/error
        cast(message as varchar) as feed_message,                                     -- reason
        cast(checked_at as timestamptz) as checked_at                                 -- last check
    from joined
)

select * from final
