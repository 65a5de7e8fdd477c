-- a lead's referrer, when known, is a patient of the same practice
select
    leads.practice_slug,
    leads.lead_id,
    leads.referrer_patient_id
from mart_leads as leads
anti join mart_patients as patients
    on
        leads.practice_slug = patients.practice_slug
        and leads.referrer_patient_id = patients.patient_id
where leads.referrer_patient_id is not null
