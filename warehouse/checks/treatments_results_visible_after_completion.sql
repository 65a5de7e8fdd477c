-- every treatment's results become visible at or after its completion
select
    practice_slug,
    treatment_id,
    completed_at,
    results_visible_at
from mart_treatments
where results_visible_at is null or results_visible_at < completed_at
