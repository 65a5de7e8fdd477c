-- grain: one row per treatment whose results became visible in the candidate window, of a patient contactable now
-- key: practice_slug, treatment_id
-- partition: practice_slug
-- materialized: ephemeral
-- The join mart_ask_candidates and mart_review_candidates share, stated once: the treatment and
-- when its results became visible, its patient's satisfaction, and the patient's effective consent
-- (after console opt-outs), for patients contactable on some channel. Each mart applies its own
-- window (ask_window_days, review_window_days) and exclusions. Ephemeral, not a view: a view was
-- evaluated three times (its row count, then each mart): 4.2 CPU-s with its two marts at 1,000
-- practices, 3.1 as a temp table. The patient's satisfaction comes with its contactability (one
-- join, not two): the hash table is then built on the contactable patients, not on the treatments.
-- The candidate window is the union of the two marts' windows (as_of minus the longer of
-- ask_window_days and review_window_days, to as_of, each bound as the marts write it): the ~2 %
-- of treatments either mart can use, filtered before the join instead of after it (the join
-- of every visible treatment was ~1 CPU-s at 1,000 practices).

with params as (
    select
        as_of,
        least(
            as_of - to_days(ask_window_days), as_of - to_days(review_window_days)
        ) as window_start
    from build_params
),

treatments as (
    select int_treatments_results_visible.*
    from int_treatments_results_visible
    cross join params
    where
        int_treatments_results_visible.results_visible_at >= params.window_start
        and int_treatments_results_visible.results_visible_at <= params.as_of
),

contactability as (
    select
        practice_slug,
        patient_id,
        consent_call,
        consent_text,
        consent_email,
        satisfaction_score,
        is_contactable
    from int_patient_contactability
),

final as (
    select
        treatments.*,
        contactability.satisfaction_score,
        contactability.consent_call,
        contactability.consent_text,
        contactability.consent_email
    from treatments
    inner join contactability
        on
            treatments.practice_slug = contactability.practice_slug
            and treatments.patient_id = contactability.patient_id
    where contactability.is_contactable
)

select * from final
