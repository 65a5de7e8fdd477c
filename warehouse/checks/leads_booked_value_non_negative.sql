-- booked values are amounts in USD, never negative
select
    practice_slug,
    lead_id,
    booked_value
from mart_leads
where booked_value < 0
