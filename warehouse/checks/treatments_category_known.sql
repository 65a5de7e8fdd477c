-- every treatment's category has a result lag in the seed
select practice_slug, treatment_id, category
from mart_treatments
where category not in (select category from stg_seed__category_result_lags)
