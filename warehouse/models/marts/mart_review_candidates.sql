-- grain: one row per patient for whom a `review_request` task should exist now (the chosen treatment)
-- key: practice_slug, patient_id
-- partition: practice_slug
-- Results visible at or before as_of and at most review_window_days before it; satisfaction >= 9 or a
-- willing disposition since those results; contactable; no review request done in the last
-- review_cooldown_days and none ever closed for this treatment. Earliest results-visible treatment wins.
-- Visible treatments of contactable patients come from int_candidate_treatments (shared with
-- mart_ask_candidates).

with params as (
    select * from build_params
),

treatments as (
    select * from int_candidate_treatments
),

asks as (
    select * from int_asks
),

review_tasks as (
    select * from stg_ops__tasks
    where kind = 'review_request' and patient_id is not null
),

in_window as (
    select treatments.*
    from treatments
    cross join params
    where treatments.results_visible_at >= params.as_of - to_days(params.review_window_days)
),

recently_requested as (
    select distinct
        review_tasks.practice_slug,
        review_tasks.patient_id
    from review_tasks
    cross join params
    where
        review_tasks.status = 'done'
        and review_tasks.closed_at > params.as_of - to_days(params.review_cooldown_days)
),

closed_for_treatment as (
    select distinct
        practice_slug,
        patient_id,
        treatment_id
    from review_tasks
    where status in ('done', 'cancelled') and treatment_id is not null
),

eligible as (
    select
        in_window.practice_slug,
        in_window.patient_id,
        in_window.treatment_id,
        in_window.results_visible_at,
        in_window.satisfaction_score,
        coalesce(in_window.satisfaction_score >= 9, false) as is_satisfied,
        exists(
            select 1 from asks
            where
                asks.practice_slug = in_window.practice_slug
                and asks.patient_id = in_window.patient_id
                and asks.willing
                and asks.asked_at >= in_window.results_visible_at
        ) as is_willing
    from in_window
    where
        not exists (
            select 1 from recently_requested as recent
            where
                recent.practice_slug = in_window.practice_slug
                and recent.patient_id = in_window.patient_id
        )
        and not exists (
            select 1 from closed_for_treatment as closed
            where
                closed.practice_slug = in_window.practice_slug
                and closed.patient_id = in_window.patient_id
                and closed.treatment_id = in_window.treatment_id
        )
),

chosen as (
    select * from eligible
    where is_satisfied or is_willing
    qualify row_number() over (
        partition by practice_slug, patient_id
        order by results_visible_at, treatment_id
    ) = 1
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,                  -- practice
        cast(patient_id as varchar) as patient_id,                        -- patient to ask for a review
        cast(treatment_id as varchar) as treatment_id,                    -- treatment it is about
        cast(results_visible_at as timestamptz) as results_visible_at,    -- results visible
        cast(satisfaction_score as integer) as satisfaction_score,        -- 0..10, nullable
        cast(
            case when is_satisfied then 'satisfaction' else 'willing' end as varchar
        ) as reason                                                       -- why it qualifies
    from chosen
)

select * from final
