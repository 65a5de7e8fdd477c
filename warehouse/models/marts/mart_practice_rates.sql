-- grain: one row per practice: the observed rates and effort the queue's priority needs
-- key: practice_slug
-- partition: practice_slug
-- avg_case_value: mean treatment value over the last 365 days before as_of, else over all time,
-- to the cent (the same for the same rows whatever DuckDB's thread scheduling).
-- lead_conversion: leads now booked or treated / leads (null when none).
-- p_refer_given_asked: asked patients who referred a lead at or after their first ask / asked
-- patients; with no asks, the prior build_params.default_p_refer_given_asked (DOMAIN.md's typical
-- referral rate, warehouse/rules.py), flagged.
-- median_minutes_<kind>: median minutes of coordinator calls on that task kind (null when none).

with params as (
    select * from build_params
),

practices as (
    select * from stg_canonical__practices
),

treatments as (
    select * from int_treatments_results_visible
),

leads as (
    select * from int_leads_outcomes
),

asks as (
    select * from int_asks
),

call_touches as (
    select * from stg_ops__touches
    where channel = 'call' and coordinator_id is not null
),

case_values as (
    select
        treatments.practice_slug,
        avg(treatments.value) filter (
            where treatments.completed_at > params.as_of - to_days(365)
        ) as recent_avg_value,
        avg(treatments.value) as all_time_avg_value,
        count(*) as treatments
    from treatments
    cross join params
    group by treatments.practice_slug
),

lead_counts as (
    select
        practice_slug,
        count(*) as leads,
        count(*) filter (where status in ('booked', 'treated')) as converted_leads
    from leads
    group by practice_slug
),

first_asks as (
    select
        practice_slug,
        patient_id,
        min(asked_at) as first_asked_at
    from asks
    group by practice_slug, patient_id
),

last_referrals as (
    select
        practice_slug,
        referrer_patient_id as patient_id,
        max(referred_at) as last_referred_at
    from leads
    where referrer_patient_id is not null
    group by practice_slug, referrer_patient_id
),

ask_counts as (
    select
        first_asks.practice_slug,
        count(*) as asked_patients,
        count(*) filter (
            where last_referrals.last_referred_at >= first_asks.first_asked_at
        ) as asked_patients_who_referred
    from first_asks
    left join last_referrals
        on
            first_asks.practice_slug = last_referrals.practice_slug
            and first_asks.patient_id = last_referrals.patient_id
    group by first_asks.practice_slug
),

minutes as (
    select
        practice_slug,
        median(minutes) filter (where task_kind = 'ask') as median_minutes_ask,
        median(minutes) filter (where task_kind = 'follow_up') as median_minutes_follow_up,
        median(minutes) filter (where task_kind = 'contact_lead') as median_minutes_contact_lead,
        median(minutes) filter (where task_kind = 'close_loop') as median_minutes_close_loop,
        median(minutes) filter (
            where task_kind = 'review_request'
        ) as median_minutes_review_request
    from call_touches
    group by practice_slug
),

final as (
    select
        cast(practices.practice_slug as varchar) as practice_slug,                    -- practice
        -- to the cent: a mean of doubles is summed in an order that depends on DuckDB's
        -- threads, and its last bits must not decide whether the queue's facts change
        cast(
            round(coalesce(case_values.recent_avg_value, case_values.all_time_avg_value), 2)
            as double
        ) as avg_case_value,                                                          -- USD
        cast(coalesce(case_values.treatments, 0) as bigint) as treatments,            -- all time
        cast(coalesce(lead_counts.leads, 0) as bigint) as leads,                      -- all time
        cast(coalesce(lead_counts.converted_leads, 0) as bigint) as converted_leads,  -- booked/treated
        cast(
            lead_counts.converted_leads / nullif(lead_counts.leads, 0) as double
        ) as lead_conversion,                                                         -- 0..1 or null
        cast(coalesce(ask_counts.asked_patients, 0) as bigint) as asked_patients,     -- ever asked
        cast(
            coalesce(
                ask_counts.asked_patients_who_referred / nullif(ask_counts.asked_patients, 0),
                params.default_p_refer_given_asked
            ) as double
        ) as p_refer_given_asked,                                                     -- 0..1
        cast(
            case when coalesce(ask_counts.asked_patients, 0) > 0 then 'observed' else 'prior' end
            as varchar
        ) as p_refer_source,                                                          -- observed/prior
        cast(minutes.median_minutes_ask as double) as median_minutes_ask,             -- null if none
        cast(minutes.median_minutes_follow_up as double) as median_minutes_follow_up,
        cast(minutes.median_minutes_contact_lead as double) as median_minutes_contact_lead,
        cast(minutes.median_minutes_close_loop as double) as median_minutes_close_loop,
        cast(minutes.median_minutes_review_request as double) as median_minutes_review_request
    from practices
    cross join params
    left join case_values on practices.practice_slug = case_values.practice_slug
    left join lead_counts on practices.practice_slug = lead_counts.practice_slug
    left join ask_counts on practices.practice_slug = ask_counts.practice_slug
    left join minutes on practices.practice_slug = minutes.practice_slug
)

select * from final
