-- grain: one row per patient: effective consent per channel once console consent events apply
-- key: practice_slug, patient_id
-- partition: practice_slug
-- materialized: ephemeral
-- The latest console consent event per (patient, channel) overrides the export's flag (a revocation
-- wins a tie). Revoked on every channel = opted out, treated as do-not-contact. A phone flagged by a
-- wrong_number call after the export last changed the patient is not usable for calls or texts.
-- satisfaction_score rides along for int_candidate_treatments, which then joins only this table;
-- the patient's names, phone and email ride along for mart_patients, which then reads this table
-- alone (no hash join of 1.7 M patients with themselves on their two-varchar key).

with patients as (
    select * from int_patients
),

consent_events as (
    select * from stg_ops__consent_events
    where subject_type = 'patient'
),

wrong_number_touches as (
    select * from stg_ops__touches
    where disposition = 'wrong_number' and patient_id is not null
),

latest_consent as (
    select
        practice_slug,
        subject_id as patient_id,
        channel,
        granted
    from consent_events
    qualify row_number() over (
        partition by practice_slug, subject_id, channel
        order by event_at desc, granted asc
    ) = 1
),

consent_by_patient as (
    select
        practice_slug,
        patient_id,
        bool_or(granted) filter (where channel = 'call') as call_granted,
        bool_or(granted) filter (where channel = 'text') as text_granted,
        bool_or(granted) filter (where channel = 'email') as email_granted
    from latest_consent
    group by practice_slug, patient_id
),

wrong_numbers as (
    select
        practice_slug,
        patient_id,
        max(started_at) as wrong_number_at
    from wrong_number_touches
    group by practice_slug, patient_id
),

effective as (
    select
        patients.practice_slug,
        patients.patient_id,
        coalesce(consent.call_granted, patients.consent_call) as consent_call,
        coalesce(consent.text_granted, patients.consent_text) as consent_text,
        coalesce(consent.email_granted, patients.consent_email) as consent_email,
        coalesce(
            not consent.call_granted and not consent.text_granted and not consent.email_granted,
            false
        ) as opted_out,
        patients.do_not_contact as export_do_not_contact,
        patients.phone is not null
        and (
            wrong_numbers.wrong_number_at is null
            or wrong_numbers.wrong_number_at < patients.updated_at
        ) as phone_usable,
        patients.email is not null as email_usable,
        patients.satisfaction_score,
        patients.first_name,
        patients.last_name,
        patients.phone,
        patients.email
    from patients
    left join consent_by_patient as consent
        on
            patients.practice_slug = consent.practice_slug
            and patients.patient_id = consent.patient_id
    left join wrong_numbers
        on
            patients.practice_slug = wrong_numbers.practice_slug
            and patients.patient_id = wrong_numbers.patient_id
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,                      -- practice
        cast(patient_id as varchar) as patient_id,                            -- export id
        cast(consent_call as boolean) as consent_call,                        -- effective call consent
        cast(consent_text as boolean) as consent_text,                        -- effective text consent
        cast(consent_email as boolean) as consent_email,                      -- effective email consent
        cast(opted_out as boolean) as opted_out,                              -- revoked on every channel
        cast(export_do_not_contact or opted_out as boolean) as do_not_contact,  -- export flag or opt-out
        cast(phone_usable as boolean) as phone_usable,                        -- phone present, not flagged
        cast(email_usable as boolean) as email_usable,                        -- email present
        cast(satisfaction_score as integer) as satisfaction_score,            -- 0..10, nullable
        cast(first_name as varchar) as first_name,                            -- PHI, for mart_patients
        cast(last_name as varchar) as last_name,                              -- PHI, for mart_patients
        cast(phone as varchar) as phone,                                      -- E.164, for mart_patients
        cast(email as varchar) as email,                                      -- lower-cased, for mart_patients
        cast(
            not (export_do_not_contact or opted_out)
            and (
                (consent_call and phone_usable) or (consent_text and phone_usable)
                or (consent_email and email_usable)
            )
            as boolean
        ) as is_contactable                                                   -- reachable on a channel
    from effective
)

select * from final
