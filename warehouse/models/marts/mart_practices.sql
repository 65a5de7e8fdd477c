-- grain: one row per practice
-- key: practice_slug
-- partition: practice_slug

with practices as (
    select * from stg_canonical__practices
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,                          -- natural key
        cast(name as varchar) as name,                                            -- display name
        cast(specialty as varchar) as specialty,                                  -- specialty
        cast(timezone as varchar) as timezone,                                    -- IANA time zone
        cast(contracted_hours_per_week as double) as contracted_hours_per_week,   -- hours sold
        cast(onboarded_at as timestamptz) as onboarded_at,                        -- agency start
        cast(monthly_fee as double) as monthly_fee                                -- agency fee, USD
    from practices
)

select * from final
