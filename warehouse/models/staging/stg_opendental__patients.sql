-- grain: one row per Open Dental `patient` row that is a patient (not an untreated Prospective)
-- key: practice_slug, patient_id
-- partition: practice_slug
-- materialized: view
-- A view (casts over the raw table, read where used): as temp tables the staging models held
-- ~0.7 of the build's 1 GB at 1,000 practices, and every join after them spilled.
-- Mapped by pipelines/source_opendental.py: PatNum, preferred phone, TxtMsgOk / PreferContactMethod /
-- commoptout -> consent flags, PatStatus 5 or 4 or DoNotCall -> do_not_contact; no satisfaction score.

with source as (
    select * from raw.raw_patients
    where _source_format = 'opendental'
),

final as (
    select
        cast(practice_slug as varchar) as practice_slug,          -- practice the patient belongs to
        cast(patient_id as varchar) as patient_id,                -- id from the practice's export
        cast(first_name as varchar) as first_name,                -- PHI
        cast(last_name as varchar) as last_name,                  -- PHI
        cast(phone as varchar) as phone,                          -- E.164, null when blank
        cast(email as varchar) as email,                          -- lower-cased, null when blank
        cast(consent_call as boolean) as consent_call,            -- export consent to be called
        cast(consent_text as boolean) as consent_text,            -- export consent to be texted
        cast(consent_email as boolean) as consent_email,          -- export consent to be emailed
        cast(do_not_contact as boolean) as do_not_contact,        -- export do-not-contact flag
        cast(satisfaction_score as integer) as satisfaction_score,  -- 0..10, null when unknown
        cast(updated_at as timestamptz) as updated_at             -- last change in the export
    from source
)

select * from final
