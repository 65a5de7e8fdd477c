-- grain: one row per console task that has an SLA deadline: whether it met it, is still open, or was cancelled.
-- key: task_id
-- A task meets its SLA when it was closed as done at or before its deadline (inclusive).

with

tasks as (
    select
        task_id,
        kind,
        practice_slug,
        created_at,
        due_at,
        sla_deadline,
        status,
        closed_at
    from stg_ops__tasks
    where sla_deadline is not null
),

final as (
    select
        cast(task_id as bigint) as task_id,                          -- the task
        cast(practice_slug as varchar) as practice_slug,             -- the practice
        cast(kind as varchar) as kind,                               -- ask, follow_up, contact_lead, ...
        cast(created_at as timestamptz) as created_at,               -- triggered
        cast(sla_deadline as timestamptz) as sla_deadline,           -- SLA deadline
        cast(status as varchar) as status,                           -- open, claimed, escalated, done, ...
        cast(closed_at as timestamptz) as closed_at,                 -- closed (null while open)
        cast(status in ('open', 'claimed', 'escalated') as boolean) as is_open,  -- still to do
        cast(status = 'cancelled' as boolean) as is_cancelled,       -- withdrawn (e.g. opt-out)
        cast(coalesce(status = 'done' and closed_at <= sla_deadline, false) as boolean)
            as met_sla                                               -- done at or before deadline
    from tasks
)

select * from final
