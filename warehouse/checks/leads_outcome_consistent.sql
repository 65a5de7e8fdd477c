-- has_outcome matches the status, and an outcome has a time
select
    practice_slug,
    lead_id,
    status,
    outcome_at
from mart_leads
where
    has_outcome is distinct from (status in ('booked', 'treated', 'declined', 'unreachable'))
    or (has_outcome and outcome_at is null)
    or (not has_outcome and outcome_at is not null)
