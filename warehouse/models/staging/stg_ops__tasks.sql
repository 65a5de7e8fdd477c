-- grain: one row per console task ever created (columns as warehouse/ops_schema.sql)
-- key: task_id

with source as (
    select * from raw.ops_tasks
),

final as (
    select
        cast(task_id as bigint) as task_id,                   -- console task id
        cast(kind as varchar) as kind,                        -- ask, follow_up, contact_lead, close_loop, review_request
        cast(practice_slug as varchar) as practice_slug,      -- practice
        cast(patient_id as varchar) as patient_id,            -- subject when a patient
        cast(lead_id as varchar) as lead_id,                  -- subject when a lead
        cast(treatment_id as varchar) as treatment_id,        -- treatment the task is about
        cast(created_at as timestamptz) as created_at,        -- task created
        cast(due_at as timestamptz) as due_at,                -- when it is due
        cast(sla_deadline as timestamptz) as sla_deadline,    -- SLA deadline
        cast(status as varchar) as status,                    -- open, claimed, done, cancelled, escalated
        cast(closed_at as timestamptz) as closed_at,          -- when it closed
        cast(close_reason as varchar) as close_reason         -- why it closed
    from source
)

select * from final
