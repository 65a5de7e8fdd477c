-- an ask candidate is contactable on a channel and neither do-not-contact nor opted out
select
    candidates.practice_slug,
    candidates.patient_id,
    candidates.treatment_id
from mart_ask_candidates as candidates
left join mart_patients as patients
    on
        candidates.practice_slug = patients.practice_slug
        and candidates.patient_id = patients.patient_id
where
    patients.patient_id is null
    or patients.do_not_contact
    or patients.opted_out
    or not patients.is_contactable
    or not (candidates.consent_call or candidates.consent_text or candidates.consent_email)
