-- grain: one row per patient of a practice, consent and do-not-contact effective after console opt-outs
-- key: practice_slug, patient_id
-- partition: practice_slug

-- int_patient_contactability carries every patient of int_patients (a left join from them) with
-- their names, phone and email: no join back to int_patients.

with contactability as (
    select * from int_patient_contactability
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,                      -- practice
        cast(patient_id as varchar) as patient_id,                            -- export id
        cast(first_name as varchar) as first_name,                            -- PHI
        cast(last_name as varchar) as last_name,                              -- PHI
        cast(phone as varchar) as phone,                                      -- E.164
        cast(email as varchar) as email,                                      -- lower-cased
        cast(consent_call as boolean) as consent_call,                        -- effective
        cast(consent_text as boolean) as consent_text,                        -- effective
        cast(consent_email as boolean) as consent_email,                      -- effective
        cast(do_not_contact as boolean) as do_not_contact,                    -- export flag or opt-out
        cast(satisfaction_score as integer) as satisfaction_score,            -- 0..10, nullable
        cast(opted_out as boolean) as opted_out,                              -- revoked everywhere
        cast(phone_usable as boolean) as phone_usable,                        -- not flagged wrong
        cast(is_contactable as boolean) as is_contactable                     -- on some channel
    from contactability
)

select * from final
