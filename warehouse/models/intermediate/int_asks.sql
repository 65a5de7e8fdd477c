-- grain: one row per ask of a patient: a call on an ask/follow_up task, or a sent ask message
-- key: source, source_id
-- reached: the call was answered (any disposition but no_answer, voicemail, wrong_number) or the
-- message got a reply. Messages carry no treatment, so their treatment_id is null.

with touches as (
    select * from stg_ops__touches
),

tasks as (
    select * from stg_ops__tasks
),

messages as (
    select * from stg_ops__messages
),

call_asks as (
    select
        touches.practice_slug,
        touches.patient_id,
        tasks.treatment_id,
        touches.started_at as asked_at,
        'call' as channel,
        'call' as source,
        touches.touch_id as source_id,
        coalesce(
            touches.disposition not in ('no_answer', 'voicemail', 'wrong_number'), false
        ) as reached,
        coalesce(touches.disposition in ('willing_no_name', 'referred'), false) as willing,
        coalesce(touches.disposition = 'declined', false) as declined,
        touches.disposition
    from touches
    left join tasks on touches.task_id = tasks.task_id
    where
        touches.channel = 'call'
        and touches.patient_id is not null
        and coalesce(touches.task_kind, tasks.kind) in ('ask', 'follow_up')
),

message_asks as (
    select
        practice_slug,
        patient_id,
        null as treatment_id,
        sent_at as asked_at,
        channel,
        'message' as source,
        message_id as source_id,
        replied_at is not null or status = 'replied' as reached,
        false as willing,
        false as declined,
        case when replied_at is not null or status = 'replied' then 'replied' end as disposition
    from messages
    where
        purpose = 'ask'
        and patient_id is not null
        and sent_at is not null
        and status in ('sent', 'replied')
),

unioned as (
    select * from call_asks
    union all
    select * from message_asks
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,  -- practice
        cast(patient_id as varchar) as patient_id,        -- patient asked
        cast(treatment_id as varchar) as treatment_id,    -- treatment asked about, nullable
        cast(asked_at as timestamptz) as asked_at,        -- call started / message sent
        cast(channel as varchar) as channel,              -- call, sms, email
        cast(source as varchar) as source,                -- call, message
        cast(source_id as bigint) as source_id,           -- touch_id or message_id
        cast(reached as boolean) as reached,              -- answered or replied
        cast(willing as boolean) as willing,              -- willing_no_name or referred
        cast(declined as boolean) as declined,            -- declined to refer
        cast(disposition as varchar) as disposition       -- call disposition, 'replied', or null
    from unioned
)

select * from final
