-- grain: one row per patient for whom an `ask` task should exist now (the chosen treatment)
-- key: practice_slug, patient_id
-- partition: practice_slug
-- Per DOMAIN.md: results visible at or before as_of and at most ask_window_days before it (inclusive);
-- patient contactable on a channel and not do-not-contact / opted out; not asked about this treatment;
-- not asked in the last ask_cooldown_days (an ask exactly that long ago no longer counts); not declined
-- in the last decline_cooldown_days. A patient with several eligible treatments gets ONE candidate, the
-- earliest results-visible one (ties: higher value, then id), so the choice is stable as data arrives.
-- Visible treatments of contactable patients come from int_candidate_treatments (shared with
-- mart_review_candidates).

with params as (
    select * from build_params
),

treatments as (
    select * from int_candidate_treatments
),

asks as (
    select * from int_asks
),

in_window as (
    select treatments.*
    from treatments
    cross join params
    where treatments.results_visible_at >= params.as_of - to_days(params.ask_window_days)
),

asked_about_treatment as (
    select distinct
        practice_slug,
        patient_id,
        treatment_id
    from asks
    where treatment_id is not null
),

recently_asked as (
    select distinct
        asks.practice_slug,
        asks.patient_id
    from asks
    cross join params
    where asks.asked_at > params.as_of - to_days(params.ask_cooldown_days)
),

recently_declined as (
    select distinct
        asks.practice_slug,
        asks.patient_id
    from asks
    cross join params
    where
        asks.declined
        and asks.asked_at > params.as_of - to_days(params.decline_cooldown_days)
),

eligible as (
    select in_window.*
    from in_window
    where
        not exists (
            select 1 from asked_about_treatment as asked
            where
                asked.practice_slug = in_window.practice_slug
                and asked.patient_id = in_window.patient_id
                and asked.treatment_id = in_window.treatment_id
        )
        and not exists (
            select 1 from recently_asked as recent
            where
                recent.practice_slug = in_window.practice_slug
                and recent.patient_id = in_window.patient_id
        )
        and not exists (
            select 1 from recently_declined as declined
            where
                declined.practice_slug = in_window.practice_slug
                and declined.patient_id = in_window.patient_id
        )
    qualify row_number() over (
        partition by in_window.practice_slug, in_window.patient_id
        order by in_window.results_visible_at asc, in_window.value desc, in_window.treatment_id asc
    ) = 1
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,                  -- practice
        cast(patient_id as varchar) as patient_id,                        -- patient to ask
        cast(treatment_id as varchar) as treatment_id,                    -- treatment to ask about
        cast(category as varchar) as category,                            -- DOMAIN.md category
        cast(value as double) as treatment_value,                         -- USD
        cast(results_visible_at as timestamptz) as results_visible_at,    -- results visible
        cast(satisfaction_score as integer) as satisfaction_score,        -- 0..10, nullable
        cast(consent_call as boolean) as consent_call,                    -- effective
        cast(consent_text as boolean) as consent_text,                    -- effective
        cast(consent_email as boolean) as consent_email                   -- effective
    from eligible
)

select * from final
