-- grain: one row per lead (export referrals and console-captured leads) with console events applied
-- key: practice_slug, lead_id
-- partition: practice_slug
-- materialized: ephemeral
-- Status: the latest console status event when it is at or after the base row's status time, else the
-- base row (an export row wins over a console row with the same key; console rows de-duplicated onto
-- another lead are dropped). first_contact_at: the first contact ATTEMPT (any touch on a contact_lead
-- task, or a 'contacted' event); for an export lead past 'new' without console facts, its status_at is
-- used as an upper-bound estimate. outcome_at: when an outcome (booked, treated, declined, unreachable)
-- first became known. loop_closed_at: first loop_closed event, loop_closed call or sent loop_close message.

with export_leads as (
    select * from int_referrals
),

console_leads as (
    select * from stg_ops__leads
    where duplicate_of_lead_id is null
),

lead_events as (
    select * from stg_ops__lead_events
),

lead_touches as (
    select * from stg_ops__touches
    where lead_id is not null
),

loop_close_messages as (
    select * from stg_ops__messages
    where purpose = 'loop_close' and lead_id is not null and sent_at is not null
),

-- Every export row, then the console rows whose key no export row has (the export wins a shared
-- key). The raw store holds one row per (practice_slug, lead_id) (ingest inserts only the keys it
-- lacks) and stg_ops__leads is key-checked, so this is the one row per key that a row_number()
-- over the union kept, without ranking every lead (~0.5 CPU-s of ~0.7 at 1,000 practices).
leads as (
    select
        practice_slug,
        lead_id,
        referrer_patient_id,
        lead_first_name,
        lead_last_name,
        lead_phone,
        lead_email,
        source,
        referred_at,
        status,
        status_at,
        booked_value,
        became_patient_id
    from export_leads
    union all
    select
        practice_slug,
        lead_id,
        referrer_patient_id,
        null as lead_first_name,  -- names of console leads stay in the operational store
        null as lead_last_name,
        null as lead_phone,
        null as lead_email,
        source,
        referred_at,
        status,
        status_at,
        booked_value,
        matched_patient_id as became_patient_id
    from console_leads
    where not exists (
        select 1 from export_leads
        where
            export_leads.practice_slug = console_leads.practice_slug
            and export_leads.lead_id = console_leads.lead_id
    )
),

latest_status_event as (
    select
        practice_slug,
        lead_id,
        event as status,
        event_at as status_at
    from lead_events
    where event in ('contacted', 'booked', 'treated', 'declined', 'unreachable')
    -- same instant: the later funnel stage wins
    qualify row_number() over (
        partition by practice_slug, lead_id
        order by
            event_at desc,
            list_position(['contacted', 'unreachable', 'declined', 'booked', 'treated'], event) desc
    ) = 1
),

event_facts as (
    select
        practice_slug,
        lead_id,
        min(event_at) filter (where event = 'contacted') as contacted_event_at,
        min(event_at) filter (
            where event in ('booked', 'treated', 'declined', 'unreachable')
        ) as outcome_event_at,
        min(event_at) filter (where event = 'loop_closed') as loop_closed_event_at,
        -- the latest booked or treated value; at one instant treated over booked, then the larger
        -- value (a total order: without it the row DuckDB happens to read last wins)
        arg_max(booked_value, (event_at, event = 'treated', booked_value)) filter (
            where event in ('booked', 'treated') and booked_value is not null
        ) as event_booked_value
    from lead_events
    group by practice_slug, lead_id
),

touch_facts as (
    select
        practice_slug,
        lead_id,
        min(started_at) filter (where task_kind = 'contact_lead') as first_attempt_at,
        min(started_at) filter (
            where task_kind = 'contact_lead'
            and disposition is not null
            and disposition not in ('no_answer', 'voicemail', 'wrong_number')
        ) as first_reached_at,
        min(started_at) filter (where disposition = 'loop_closed') as loop_closed_touch_at
    from lead_touches
    group by practice_slug, lead_id
),

message_facts as (
    select
        practice_slug,
        lead_id,
        min(sent_at) as loop_close_sent_at
    from loop_close_messages
    group by practice_slug, lead_id
),

applied as (
    select
        leads.*,
        coalesce(latest.status_at >= coalesce(leads.status_at, leads.referred_at), false)
            as event_is_current,
        latest.status as event_status,
        latest.status_at as event_status_at,
        event_facts.contacted_event_at,
        event_facts.outcome_event_at,
        event_facts.loop_closed_event_at,
        event_facts.event_booked_value,
        touch_facts.first_attempt_at,
        touch_facts.first_reached_at,
        touch_facts.loop_closed_touch_at,
        message_facts.loop_close_sent_at
    from leads
    left join latest_status_event as latest
        on leads.practice_slug = latest.practice_slug and leads.lead_id = latest.lead_id
    left join event_facts
        on leads.practice_slug = event_facts.practice_slug and leads.lead_id = event_facts.lead_id
    left join touch_facts
        on leads.practice_slug = touch_facts.practice_slug and leads.lead_id = touch_facts.lead_id
    left join message_facts
        on
            leads.practice_slug = message_facts.practice_slug
            and leads.lead_id = message_facts.lead_id
),

resolved as (
    select
        *,
        case when event_is_current then event_status else status end as current_status,
        case when event_is_current then event_status_at else status_at end as current_status_at,
        status in ('booked', 'treated', 'declined', 'unreachable') as base_has_outcome
    from applied
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,                  -- practice
        cast(lead_id as varchar) as lead_id,                              -- export or console id
        cast(referrer_patient_id as varchar) as referrer_patient_id,      -- referring patient
        cast(lead_first_name as varchar) as lead_first_name,              -- PHI, export leads only
        cast(lead_last_name as varchar) as lead_last_name,                -- PHI, export leads only
        cast(lead_phone as varchar) as lead_phone,                        -- PHI, export leads only
        cast(lead_email as varchar) as lead_email,                        -- PHI, export leads only
        cast(source as varchar) as source,                                -- export, coordinator, link
        cast(referred_at as timestamptz) as referred_at,                  -- lead created
        cast(current_status as varchar) as status,                        -- current lead status
        cast(current_status_at as timestamptz) as status_at,              -- when it got that status
        cast(coalesce(event_booked_value, booked_value) as double) as booked_value,  -- USD
        cast(became_patient_id as varchar) as became_patient_id,          -- patient it became
        cast(
            least(
                contacted_event_at,
                first_attempt_at,
                case
                    when status in ('contacted', 'booked', 'treated', 'declined')
                        then coalesce(status_at, referred_at)
                end
            ) as timestamptz
        ) as first_contact_at,                                            -- first contact attempt
        cast(first_reached_at as timestamptz) as first_reached_at,        -- first answered call
        cast(
            current_status in ('booked', 'treated', 'declined', 'unreachable') as boolean
        ) as has_outcome,                                                 -- outcome known
        cast(
            case
                when current_status in ('booked', 'treated', 'declined', 'unreachable')
                    then least(
                        outcome_event_at,
                        case when base_has_outcome then coalesce(status_at, referred_at) end,
                        case when event_is_current then event_status_at end
                    )
            end as timestamptz
        ) as outcome_at,                                                  -- outcome first known
        cast(
            least(loop_closed_event_at, loop_closed_touch_at, loop_close_sent_at) as timestamptz
        ) as loop_closed_at                                               -- referrer told
    from resolved
)

select * from final
