-- grain: one row per treatment category (DOMAIN.md's table of default result lags; the one place they live)
-- key: category

with lags as (
    select *
    from (
        values
        ('implant', 14),
        ('orthodontic', 3),
        ('cosmetic_dental', 7),
        ('whitening', 2),
        ('injectable', 14),
        ('laser_skin', 30),
        ('body_contouring', 90),
        ('surgical_face', 90),
        ('surgical_body', 60),
        ('refractive', 7),
        ('hair_restoration', 180)
    ) as seed (category, lag_days)  -- noqa: AL05
),

final as (
    select
        cast(category as varchar) as category,  -- treatment category of DOMAIN.md
        cast(lag_days as integer) as lag_days   -- days after completion until results are visible
    from lags
)

select * from final
