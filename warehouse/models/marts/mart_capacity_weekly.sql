-- grain: one row per practice and ISO week (Monday, UTC) with coordinator minutes logged, vs. contracted hours.
-- key: practice_slug, week_start
-- Only human touches count (coordinator_id not null): automated messages cost no coordinator time.

with

practices as (
    select
        practice_slug,
        contracted_hours_per_week
    from mart_practices
),

touches as (
    select
        practice_slug,
        minutes,
        started_at
    from stg_ops__touches
    where coordinator_id is not null
),

weekly as (
    select
        practice_slug,
        cast(date_trunc('week', timezone('UTC', started_at)) as date) as week_start,
        sum(minutes) as minutes_logged
    from touches
    group by all
),

final as (
    select
        cast(w.practice_slug as varchar) as practice_slug,           -- the practice
        cast(w.week_start as date) as week_start,                    -- ISO week's Monday (UTC)
        cast(w.minutes_logged as double) as minutes_logged,          -- coordinator minutes
        cast(w.minutes_logged / 60.0 as double) as hours_delivered,  -- minutes / 60
        cast(p.contracted_hours_per_week as double) as contracted_hours_per_week,  -- paid for
        cast(w.minutes_logged / 60.0 - p.contracted_hours_per_week as double)
            as hours_vs_contract                                     -- + ahead, - behind
    from weekly as w
    left join practices as p on w.practice_slug = p.practice_slug
)

select * from final
