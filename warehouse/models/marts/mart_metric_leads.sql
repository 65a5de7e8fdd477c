-- One row per lead: its contact SLA, 90-day conversion, loop-closure SLA and repeat-referral facts.
-- key: practice_slug, lead_id
-- partition: practice_slug
-- SLA deadlines come from the console's contact_lead / close_loop task when one exists; otherwise
-- (leads older than the console) they are derived: + 1 (contact) or + 2 (loop) business days in the
-- practice's time zone, where a business day skips Saturday and Sunday (practice hours are not modelled
-- here). Windows are inclusive and in absolute hours (90 d = 2160 h).

with

practices as (
    select practice_slug, timezone from mart_practices
),

leads as (
    select
        practice_slug,
        lead_id,
        referrer_patient_id,
        referred_at,
        status,
        status_at,
        booked_value,
        first_contact_at,
        has_outcome,
        outcome_at,
        loop_closed_at
    from mart_leads
),

task_deadlines as (
    select
        practice_slug,
        lead_id,
        min(sla_deadline) filter (where kind = 'contact_lead') as contact_task_deadline,
        min(sla_deadline) filter (where kind = 'close_loop') as loop_task_deadline
    from stg_ops__tasks
    where lead_id is not null and sla_deadline is not null
    group by practice_slug, lead_id
),

local_times as (
    -- naive local wall-clock times, so that adding calendar days respects the practice's zone
    select
        l.*,
        coalesce(p.timezone, 'UTC') as tz,
        timezone(coalesce(p.timezone, 'UTC'), l.referred_at) as referred_local,
        timezone(coalesce(p.timezone, 'UTC'), l.outcome_at) as outcome_local
    from leads as l
    left join practices as p on p.practice_slug = l.practice_slug
),

business_day_1 as (
    -- one business day later: the next day, pushed past Saturday (6) and Sunday (0)
    select
        *,
        referred_local + interval 1 day
            + case dayofweek(referred_local + interval 1 day)
                when 6 then interval 2 day when 0 then interval 1 day else interval 0 day end
            as contact_local_deadline,
        outcome_local + interval 1 day
            + case dayofweek(outcome_local + interval 1 day)
                when 6 then interval 2 day when 0 then interval 1 day else interval 0 day end
            as outcome_plus_one_local
    from local_times
),

business_day_2 as (
    select
        *,
        outcome_plus_one_local + interval 1 day
            + case dayofweek(outcome_plus_one_local + interval 1 day)
                when 6 then interval 2 day when 0 then interval 1 day else interval 0 day end
            as loop_local_deadline
    from business_day_1
),

deadlines as (
    select
        b.*,
        coalesce(d.contact_task_deadline, timezone(b.tz, b.contact_local_deadline))
            as contact_deadline,
        case when b.has_outcome
            then coalesce(d.loop_task_deadline, timezone(b.tz, b.loop_local_deadline))
        end as loop_deadline,
        case when b.status in ('booked', 'treated')
            then coalesce(b.outcome_at, b.status_at)
        end as booked_at
    from business_day_2 as b
    left join task_deadlines as d
        on d.practice_slug = b.practice_slug and d.lead_id = b.lead_id
),

referrer_order as (
    select
        *,
        row_number() over (
            partition by practice_slug, referrer_patient_id order by referred_at, lead_id
        ) as referrer_lead_number,
        count(*) over (partition by practice_slug, referrer_patient_id) as referrer_lead_count,
        first_value(loop_closed_at is not null) over (
            partition by practice_slug, referrer_patient_id order by referred_at, lead_id
        ) as referrer_first_loop_closed
    from deadlines
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,              -- the practice
        cast(lead_id as varchar) as lead_id,                          -- the lead
        cast(referrer_patient_id as varchar) as referrer_patient_id,  -- who referred (nullable)
        cast(referred_at as timestamptz) as referred_at,              -- lead created
        cast(status as varchar) as status,                            -- current lead status
        cast(first_contact_at as timestamptz) as first_contact_at,    -- first contact attempt
        cast(contact_deadline as timestamptz) as contact_deadline,    -- first-contact SLA deadline
        cast(coalesce(first_contact_at <= contact_deadline, false) as boolean)
            as contacted_within_sla,                                  -- contacted at or before it
        cast(booked_at as timestamptz) as booked_at,                  -- when it booked (null if never)
        cast(coalesce(booked_at <= referred_at + interval 2160 hour, false) as boolean)
            as converted_90d,                                         -- booked within 90 d
        cast(coalesce(booked_value, 0) as double) as booked_value,    -- USD, 0 when unknown
        cast(coalesce(has_outcome, false) as boolean) as has_outcome,  -- outcome known
        cast(outcome_at as timestamptz) as outcome_at,                -- when the outcome was known
        cast(loop_deadline as timestamptz) as loop_deadline,          -- loop-closure SLA deadline
        cast(loop_closed_at as timestamptz) as loop_closed_at,        -- referrer thanked + told
        cast(coalesce(loop_closed_at <= loop_deadline, false) as boolean)
            as loop_closed_within_sla,                                -- told at or before it
        cast(case when referrer_patient_id is not null then referrer_lead_number end as integer)
            as referrer_lead_number,                                  -- 1 = referrer's first lead
        cast(case when referrer_patient_id is not null then referrer_lead_count end as integer)
            as referrer_lead_count,                                   -- referrer's leads as of as_of
        cast(case when referrer_patient_id is not null then referrer_first_loop_closed end
            as boolean) as referrer_first_loop_closed                 -- first lead's loop closed
    from referrer_order
)

select * from final
