-- an ask candidate's results are visible, and recently enough
select
    candidates.practice_slug,
    candidates.patient_id,
    candidates.treatment_id,
    candidates.results_visible_at
from mart_ask_candidates as candidates
cross join build_params as params
where
    candidates.results_visible_at > params.as_of
    or candidates.results_visible_at < params.as_of - to_days(params.ask_window_days)
