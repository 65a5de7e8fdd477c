-- grain: one row per patient of a practice, consent and do-not-contact effective after console opt-outs
-- key: practice_slug, patient_id
-- partition: practice_slug

with patients as (
    select * from int_patients
),

contactability as (
    select * from int_patient_contactability
),

final as (
    select
        cast(patients.practice_slug as varchar) as practice_slug,             -- practice
        cast(patients.patient_id as varchar) as patient_id,                   -- export id
        cast(patients.first_name as varchar) as first_name,                   -- PHI
        cast(patients.last_name as varchar) as last_name,                     -- PHI
        cast(patients.phone as varchar) as phone,                             -- E.164
        cast(patients.email as varchar) as email,                             -- lower-cased
        cast(contactability.consent_call as boolean) as consent_call,         -- effective
        cast(contactability.consent_text as boolean) as consent_text,         -- effective
        cast(contactability.consent_email as boolean) as consent_email,       -- effective
        cast(contactability.do_not_contact as boolean) as do_not_contact,     -- export flag or opt-out
        cast(patients.satisfaction_score as integer) as satisfaction_score,   -- 0..10, nullable
        cast(contactability.opted_out as boolean) as opted_out,               -- revoked everywhere
        cast(contactability.phone_usable as boolean) as phone_usable,         -- not flagged wrong
        cast(contactability.is_contactable as boolean) as is_contactable      -- on some channel
    from patients
    inner join contactability
        on
            patients.practice_slug = contactability.practice_slug
            and patients.patient_id = contactability.patient_id
)

select * from final
