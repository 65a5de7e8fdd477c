-- grain: one row per coordinator and ISO week (Monday, UTC): minutes logged over available minutes.
-- key: coordinator_id, week_start
-- No roster with working hours exists yet, so every coordinator is assumed to have a 40 h week
-- (2,400 available minutes); utilisation above 1 means overtime.

with

touches as (
    select
        coordinator_id,
        practice_slug,
        minutes,
        started_at
    from stg_ops__touches
    where coordinator_id is not null
),

weekly as (
    select
        coordinator_id,
        cast(date_trunc('week', timezone('UTC', started_at)) as date) as week_start,
        sum(minutes) as minutes_logged,
        count(distinct practice_slug) as practices_served
    from touches
    group by all
),

final as (
    select
        cast(coordinator_id as bigint) as coordinator_id,            -- the coordinator (user id)
        cast(week_start as date) as week_start,                      -- ISO week's Monday (UTC)
        cast(minutes_logged as double) as minutes_logged,            -- minutes on touches
        cast(practices_served as integer) as practices_served,       -- practices worked for
        cast(2400.0 as double) as available_minutes,                 -- assumed 40 h week
        cast(minutes_logged / 2400.0 as double) as utilisation       -- logged / available
    from weekly
)

select * from final
