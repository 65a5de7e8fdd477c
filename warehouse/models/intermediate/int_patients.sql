-- grain: one row per patient, from every source format (stg_canonical__patients, stg_fhir__patients, stg_opendental__patients)
-- key: practice_slug, patient_id
-- partition: practice_slug
-- materialized: view
-- The per-source staging models share one column list (each source reader maps to the canonical
-- contract before load), and the union matches them by name; a practice is read by one format at a time.

select * from stg_canonical__patients

union all by name

select * from stg_fhir__patients

union all by name

select * from stg_opendental__patients
