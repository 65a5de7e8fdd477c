-- grain: one row per practice and task kind with open tasks: the backlog in hours of coordinator work.
-- key: practice_slug, kind
-- Minutes per task = the agency-wide median of coordinator minutes spent per done task of that kind
-- (summing its touches); when none are observed, a documented default per kind (docs/metrics.md).

with

tasks as (
    select
        task_id,
        kind,
        practice_slug,
        status
    from stg_ops__tasks
),

touches as (
    select
        task_id,
        minutes
    from stg_ops__touches
    where coordinator_id is not null and task_id is not null
),

default_minutes as (
    select * from (
        values
        ('ask', 6.0),
        ('follow_up', 5.0),
        ('contact_lead', 8.0),
        ('close_loop', 4.0),
        ('review_request', 3.0)
    ) as d (kind, minutes)  -- noqa: AL05
),

minutes_per_done_task as (
    select
        t.kind,
        t.task_id,
        sum(x.minutes) as minutes
    from tasks as t
    inner join touches as x on t.task_id = x.task_id
    where t.status = 'done'
    group by t.kind, t.task_id
),

observed as (
    select
        kind,
        median(minutes) as median_minutes,
        count(*) as tasks_observed
    from minutes_per_done_task
    group by kind
),

open_tasks as (
    select
        practice_slug,
        kind,
        count(*) as open_tasks
    from tasks
    where status in ('open', 'claimed', 'escalated')
    group by practice_slug, kind
),

final as (
    select
        cast(o.practice_slug as varchar) as practice_slug,           -- the practice
        cast(o.kind as varchar) as kind,                             -- task kind
        cast(o.open_tasks as integer) as open_tasks,                 -- open, claimed or escalated
        cast(ob.median_minutes as double) as observed_median_minutes,  -- null when none observed
        cast(coalesce(ob.tasks_observed, 0) as integer) as tasks_observed,  -- done tasks measured
        cast(coalesce(d.minutes, 5.0) as double) as default_minutes,  -- fallback per kind
        cast(coalesce(ob.median_minutes, d.minutes, 5.0) as double) as minutes_per_task,  -- used
        cast(o.open_tasks * coalesce(ob.median_minutes, d.minutes, 5.0) / 60.0 as double)
            as backlog_hours                                         -- open x minutes / 60
    from open_tasks as o
    left join observed as ob on o.kind = ob.kind
    left join default_minutes as d on o.kind = d.kind
)

select * from final
