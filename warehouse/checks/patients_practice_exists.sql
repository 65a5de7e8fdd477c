-- every patient belongs to a known practice
select
    patients.practice_slug,
    patients.patient_id
from mart_patients as patients
anti join mart_practices as practices
    on patients.practice_slug = practices.practice_slug
