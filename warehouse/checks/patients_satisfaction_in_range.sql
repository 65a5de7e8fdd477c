-- satisfaction scores are 0..10 when known
select
    practice_slug,
    patient_id,
    satisfaction_score
from mart_patients
where satisfaction_score not between 0 and 10
