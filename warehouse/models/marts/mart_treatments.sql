-- grain: one row per treatment of a practice
-- key: practice_slug, treatment_id
-- partition: practice_slug

with treatments as (
    select * from int_treatments_results_visible
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,                  -- practice
        cast(treatment_id as varchar) as treatment_id,                    -- export id
        cast(patient_id as varchar) as patient_id,                        -- treated patient
        cast(treatment_code as varchar) as treatment_code,                -- practice's code
        cast(category as varchar) as category,                            -- DOMAIN.md category
        cast(description as varchar) as description,                     -- free text
        cast(value as double) as value,                                   -- USD
        cast(completed_at as timestamptz) as completed_at,                -- completed
        cast(results_visible_at as timestamptz) as results_visible_at,    -- results visible
        cast(results_visible_source as varchar) as results_visible_source  -- given or derived
    from treatments
)

select * from final
