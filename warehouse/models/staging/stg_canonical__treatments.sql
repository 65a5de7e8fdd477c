-- grain: one row per treatment of a practice
-- key: practice_slug, treatment_id
-- partition: practice_slug
-- materialized: view
-- A view (casts over the raw table, read where used): as temp tables the staging models held
-- ~0.7 of the build's 1 GB at 1,000 practices, and every join after them spilled.

with source as (
    select * from raw.raw_treatments
    where coalesce(_source_format, 'canonical') = 'canonical'
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,                       -- practice
        cast(treatment_id as varchar) as treatment_id,                         -- id from the export
        cast(patient_id as varchar) as patient_id,                             -- treated patient
        cast(treatment_code as varchar) as treatment_code,                     -- practice's code
        cast(lower(trim(category)) as varchar) as category,                    -- DOMAIN.md category
        cast(description as varchar) as description,                           -- free text
        cast(value as double) as value,                                        -- USD
        cast(completed_at as timestamptz) as completed_at,                     -- treatment completed
        cast(results_visible_at as timestamptz) as given_results_visible_at    -- as exported, nullable
    from source
)

select * from final
