-- an ask candidate's treatment is a known treatment of that patient (so the patient exists too:
-- treatments_patient_exists)
select
    candidates.practice_slug,
    candidates.patient_id,
    candidates.treatment_id
from mart_ask_candidates as candidates
anti join mart_treatments as treatments
    on
        candidates.practice_slug = treatments.practice_slug
        and candidates.treatment_id = treatments.treatment_id
        and candidates.patient_id = treatments.patient_id
