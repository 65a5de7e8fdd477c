-- grain: one row per practice
-- key: practice_slug
-- partition: practice_slug

with source as (
    select * from raw.raw_practices
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,                          -- natural key
        cast(name as varchar) as name,                                            -- display name
        cast(specialty as varchar) as specialty,                                  -- e.g. dental implants
        cast(timezone as varchar) as timezone,                                    -- IANA time zone
        cast(contracted_hours_per_week as double) as contracted_hours_per_week,   -- agency hours sold
        cast(onboarded_at as timestamptz) as onboarded_at,                        -- agency start, nullable
        cast(monthly_fee as double) as monthly_fee,                               -- agency fee USD, nullable
        cast(_loaded_at as timestamptz) as loaded_at                              -- last ingest of the row
    from source
)

select * from final
