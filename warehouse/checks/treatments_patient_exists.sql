-- every treatment belongs to a known patient of the same practice
select
    treatments.practice_slug,
    treatments.treatment_id,
    treatments.patient_id
from mart_treatments as treatments
anti join mart_patients as patients
    on
        treatments.practice_slug = patients.practice_slug
        and treatments.patient_id = patients.patient_id
