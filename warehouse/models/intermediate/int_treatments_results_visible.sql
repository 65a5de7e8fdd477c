-- grain: one row per treatment, with the instant its results become visible
-- key: practice_slug, treatment_id
-- partition: practice_slug
-- materialized: view
-- results_visible_at is the exported value when it is at or after completion; otherwise (blank, or an
-- exported value before completion, which cannot be right) completion + the category's default lag.
-- A view, not a temp table: its three readers each redo the join with the small lags seed, cheaper
-- than holding 2 M wide rows under the build's memory ceiling (~0.8 CPU-s and ~200 MB of spill less).
-- The lag is added as whole 86,400 s days on the epoch (microseconds): the build's session is UTC
-- (warehouse/snapshot.py), where `+ to_days(n)` gives the same instant but through an ICU calendar
-- per row (~0.3 CPU-s for 2.1 M rows, paid again by each of the three readers).

with treatments as (
    select * from int_treatments
),

lags as (
    select * from stg_seed__category_result_lags
),

with_lag as (
    select
        treatments.*,
        lags.lag_days,
        make_timestamptz(
            epoch_us(treatments.completed_at)
            + cast(coalesce(lags.lag_days, 0) as bigint) * 86400000000
        ) as derived_results_visible_at
    from treatments
    left join lags on treatments.category = lags.category
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,      -- practice
        cast(treatment_id as varchar) as treatment_id,        -- id from the export
        cast(patient_id as varchar) as patient_id,            -- treated patient
        cast(treatment_code as varchar) as treatment_code,    -- practice's code
        cast(category as varchar) as category,                -- DOMAIN.md category
        cast(description as varchar) as description,          -- free text
        cast(value as double) as value,                       -- USD
        cast(completed_at as timestamptz) as completed_at,    -- treatment completed
        cast(
            case
                when given_results_visible_at >= completed_at then given_results_visible_at
                else derived_results_visible_at
            end as timestamptz
        ) as results_visible_at,                              -- results visible to the patient
        cast(
            case
                when given_results_visible_at is null then 'derived'
                when given_results_visible_at >= completed_at then 'given'
                else 'derived_given_before_completion'
            end as varchar
        ) as results_visible_source,                          -- given, derived, or derived (bad given)
        cast(lag_days as integer) as category_lag_days        -- the category's default lag
    from with_lag
)

select * from final
