-- grain: one row per treatment: the ask, reach, willingness and referral facts of its patient, measured
-- from the moment the treatment's results became visible. Period metrics aggregate this table.
-- key: practice_slug, treatment_id
-- partition: practice_slug
-- Windows are inclusive at both ends and measured in absolute hours (build_params'
-- ask_rate_window_days 30 d = 720 h, referral_window_days 180 d = 4320 h; warehouse/rules.py)
-- so that DST changes and the session time zone never move a boundary.

with

params as (
    select
        as_of,
        ask_rate_window_days,
        referral_window_days
    from build_params
),

-- Not materialised: each of its three readers reads mart_treatments' own columns again (a
-- compressed scan), cheaper than writing 2.1 M nine-column rows to a temp result and reading them
-- back three times under the build's memory ceiling (~0.3 CPU-s of ~2.7 at 1,000 practices).
treatments as not materialized (
    select
        mart_treatments.practice_slug,
        mart_treatments.treatment_id,
        mart_treatments.patient_id,
        mart_treatments.category,
        mart_treatments.value,
        mart_treatments.completed_at,
        mart_treatments.results_visible_at,
        mart_treatments.results_visible_at + to_hours(24 * params.ask_rate_window_days)
            as ask_window_end,
        mart_treatments.results_visible_at + to_hours(24 * params.referral_window_days)
            as referral_window_end
    from mart_treatments
    cross join params
),

asks as (
    select
        practice_slug,
        patient_id,
        asked_at,
        reached,
        willing
    from int_asks
),

referrals as (
    select
        practice_slug,
        referrer_patient_id,
        referred_at,
        first_contact_at,
        status,
        loop_closed_at
    from mart_leads
    where referrer_patient_id is not null
),

ask_facts as (
    -- an ask counts for a treatment when 0 <= asked_at - results_visible_at <= its window
    select
        t.practice_slug,
        t.treatment_id,
        min(a.asked_at) as first_asked_at,
        bool_or(coalesce(a.reached, false)) as reached,
        bool_or(coalesce(a.willing, false)) as willing
    from treatments as t
    inner join asks as a
        on
            t.practice_slug = a.practice_slug
            and t.patient_id = a.patient_id
            and t.results_visible_at <= a.asked_at
            and t.ask_window_end >= a.asked_at
    group by t.practice_slug, t.treatment_id
    having count(*) > 0  -- always true: see referral_facts
),

referral_facts as (
    -- a referral counts for a treatment when 0 <= referred_at - results_visible_at <= its window
    select
        t.practice_slug,
        t.treatment_id,
        min(r.referred_at) as first_referred_at,
        count(*) as leads,
        bool_or(r.first_contact_at is not null) as lead_contacted,
        bool_or(r.status in ('booked', 'treated')) as lead_booked,
        bool_or(r.loop_closed_at is not null) as loop_closed
    from treatments as t
    inner join referrals as r
        on
            t.practice_slug = r.practice_slug
            and t.patient_id = r.referrer_patient_id
            and t.results_visible_at <= r.referred_at
            and t.referral_window_end >= r.referred_at
    group by t.practice_slug, t.treatment_id
    -- Always true (an inner join's group has a row), but it lowers the optimiser's estimate of
    -- this side (it guessed 4.8 M groups for the 0.35 M there are at 1,000 practices) below the
    -- 2.1 M treatments, so `final` builds its hash table on these facts instead of on every
    -- treatment with its columns: ~0.4 CPU-s of ~2.2 (docs/benchmarks.md, brief contact).
    having count(*) > 0
),

final as (
    select
        cast(t.practice_slug as varchar) as practice_slug,            -- the practice
        cast(t.treatment_id as varchar) as treatment_id,              -- the treatment (cohort entry)
        cast(t.patient_id as varchar) as patient_id,                  -- the treated patient
        cast(t.category as varchar) as category,                      -- treatment category
        cast(t.value as double) as treatment_value,                   -- case value, USD
        cast(t.completed_at as timestamptz) as completed_at,          -- treated
        cast(t.results_visible_at as timestamptz) as results_visible_at,  -- cohort anchor
        cast(t.results_visible_at <= p.as_of as boolean) as results_visible,  -- visible by as_of
        cast(a.first_asked_at as timestamptz) as first_asked_at,      -- first ask in the 30 d window
        cast(a.treatment_id is not null as boolean) as asked_30d,     -- asked within 30 d
        cast(coalesce(a.reached, false) as boolean) as reached_30d,   -- an ask in the window reached them
        cast(coalesce(a.willing, false) as boolean) as willing_30d,   -- said willing / referred on it
        cast(rf.first_referred_at as timestamptz) as first_referred_at,  -- first lead in 180 d
        cast(coalesce(rf.leads, 0) as integer) as leads_180d,         -- leads referred within 180 d
        cast(rf.treatment_id is not null as boolean) as referred_180d,  -- referred >= 1 lead in 180 d
        cast(coalesce(rf.lead_contacted, false) as boolean) as lead_contacted,  -- one was contacted
        cast(coalesce(rf.lead_booked, false) as boolean) as lead_booked,  -- one booked (or treated)
        cast(coalesce(rf.loop_closed, false) as boolean) as loop_closed  -- one loop was closed
    from treatments as t
    cross join params as p
    left join ask_facts as a
        on t.practice_slug = a.practice_slug and t.treatment_id = a.treatment_id
    left join referral_facts as rf
        on t.practice_slug = rf.practice_slug and t.treatment_id = rf.treatment_id
)

select * from final
