-- treatment values are amounts in USD, never negative
select
    practice_slug,
    treatment_id,
    value
from mart_treatments
where value < 0
