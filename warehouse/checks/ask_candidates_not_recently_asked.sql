-- an ask candidate was not asked in the cooldown, nor about this treatment, nor declined recently
select
    candidates.practice_slug,
    candidates.patient_id,
    candidates.treatment_id
from mart_ask_candidates as candidates
cross join build_params as params
inner join int_asks as asks
    on
        candidates.practice_slug = asks.practice_slug
        and candidates.patient_id = asks.patient_id
where
    asks.treatment_id = candidates.treatment_id
    or asks.asked_at > params.as_of - to_days(params.ask_cooldown_days)
    or (asks.declined and asks.asked_at > params.as_of - to_days(params.decline_cooldown_days))
