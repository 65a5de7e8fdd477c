-- every treatment's category has a result lag in the seed
select
    treatments.practice_slug,
    treatments.treatment_id,
    treatments.category
from mart_treatments as treatments
where treatments.category not in (select lags.category from stg_seed__category_result_lags as lags)
