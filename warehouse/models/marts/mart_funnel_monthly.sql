-- grain: one row per practice and month of treatment completion (UTC): distinct patients at each funnel stage.
-- key: practice_slug, month
-- partition: practice_slug
-- Stages are cumulative (each a subset of the one before), from mart_metric_cohort's windows:
-- treated -> results_visible -> asked (30 d) -> reached -> willing -> referred (180 d)
-- -> lead_contacted -> lead_booked -> loop_closed.

with

cohort as (
    select * from mart_metric_cohort
),

patient_months as (
    -- a patient treated twice in a month counts once, with the best stage reached
    select
        practice_slug,
        patient_id,
        -- the UTC wall clock from the epoch: timezone('UTC', …)'s instant, without its ICU
        -- conversion per row (~0.15 CPU-s for 2.1 M rows)
        cast(date_trunc('month', make_timestamp(epoch_us(completed_at))) as date) as month,
        bool_or(results_visible) as results_visible,
        bool_or(results_visible and asked_30d) as asked,
        bool_or(results_visible and asked_30d and reached_30d) as reached,
        bool_or(results_visible and asked_30d and reached_30d and willing_30d) as willing,
        bool_or(results_visible and referred_180d) as referred,
        bool_or(results_visible and referred_180d and lead_contacted) as lead_contacted,
        bool_or(results_visible and referred_180d and lead_contacted and lead_booked)
            as lead_booked,
        bool_or(
            results_visible and referred_180d and lead_contacted and lead_booked and loop_closed
        ) as loop_closed
    from cohort
    group by all
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,             -- the practice
        cast(month as date) as month,                                -- month treated (UTC)
        cast(count(*) as integer) as treated,                        -- patients treated
        cast(count(*) filter (where results_visible) as integer) as results_visible,
        cast(count(*) filter (where asked) as integer) as asked,
        cast(count(*) filter (where reached) as integer) as reached,
        cast(count(*) filter (where willing) as integer) as willing,
        cast(count(*) filter (where referred) as integer) as referred,
        cast(count(*) filter (where lead_contacted) as integer) as lead_contacted,
        cast(count(*) filter (where lead_booked) as integer) as lead_booked,
        cast(count(*) filter (where loop_closed) as integer) as loop_closed
    from patient_months
    group by practice_slug, month
)

select * from final
