-- lead status is one of DOMAIN.md's statuses
select
    practice_slug,
    lead_id,
    status
from mart_leads
where
    status is null
    or status not in ('new', 'contacted', 'booked', 'treated', 'declined', 'unreachable')
