-- every lead (export referral or console capture) belongs to a known practice
select
    leads.practice_slug,
    leads.lead_id
from mart_leads as leads
anti join mart_practices as practices
    on leads.practice_slug = practices.practice_slug
