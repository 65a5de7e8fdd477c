-- grain: one row per lead: its contact SLA, 90-day conversion, loop-closure SLA and repeat-referral facts.
-- key: practice_slug, lead_id
-- partition: practice_slug
-- SLA deadlines come from the console's contact_lead / close_loop task when one exists; otherwise
-- (leads older than the console) they are derived: + the practice's lead-contact (default 1) or
-- loop-closure (default 2) SLA in business days, at the same wall-clock time in its time zone, where
-- business days are the practice's open weekdays (build_sla_days, made by the build from
-- loopdesk_core.business_hours.days_to_open_day; practices without settings: Monday to Friday). Opening
-- hours are not modelled here. Windows are inclusive and in absolute hours (conversion_window_days
-- 90 d = 2160 h).

with

params as (
    select conversion_window_days from build_params
),

sla_days as (
    select
        practice_slug,
        iso_weekday,
        contact_days,
        loop_days
    from build_sla_days
),

practices as (
    select
        practice_slug,
        timezone
    from mart_practices
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
    left join practices as p on l.practice_slug = p.practice_slug
),

calendar_days as (
    -- calendar days to each deadline: the practice's own calendar, else the default (null slug)
    select
        t.*,
        coalesce(own_contact.contact_days, default_contact.contact_days) as contact_days,
        coalesce(own_loop.loop_days, default_loop.loop_days) as loop_days
    from local_times as t
    left join sla_days as own_contact
        on
            t.practice_slug = own_contact.practice_slug
            and isodow(t.referred_local) = own_contact.iso_weekday
    left join sla_days as default_contact
        on
            default_contact.practice_slug is null
            and isodow(t.referred_local) = default_contact.iso_weekday
    left join sla_days as own_loop
        on
            t.practice_slug = own_loop.practice_slug
            and isodow(t.outcome_local) = own_loop.iso_weekday
    left join sla_days as default_loop
        on
            default_loop.practice_slug is null
            and isodow(t.outcome_local) = default_loop.iso_weekday
),

local_deadlines as (
    select
        *,
        referred_local + to_days(contact_days) as contact_local_deadline,
        outcome_local + to_days(loop_days) as loop_local_deadline
    from calendar_days
),

deadlines as (
    select
        b.*,
        coalesce(d.contact_task_deadline, timezone(b.tz, b.contact_local_deadline))
            as contact_deadline,
        case
            when b.has_outcome
                then coalesce(d.loop_task_deadline, timezone(b.tz, b.loop_local_deadline))
        end as loop_deadline,
        case
            when b.status in ('booked', 'treated')
                then coalesce(b.outcome_at, b.status_at)
        end as booked_at,
        b.referred_at + to_hours(24 * params.conversion_window_days) as conversion_deadline
    from local_deadlines as b
    cross join params
    left join task_deadlines as d
        on b.practice_slug = d.practice_slug and b.lead_id = d.lead_id
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
        cast(
            coalesce(booked_at <= conversion_deadline, false)
            as boolean
        ) as converted_90d,                                         -- booked within 90 d
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
        cast(
            case when referrer_patient_id is not null then referrer_first_loop_closed end
            as boolean
        ) as referrer_first_loop_closed                 -- first lead's loop closed
    from referrer_order
)

select * from final
