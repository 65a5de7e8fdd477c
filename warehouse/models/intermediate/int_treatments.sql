-- grain: one row per treatment, from every source format (stg_canonical__treatments, stg_fhir__procedures, stg_opendental__procedures)
-- key: practice_slug, treatment_id
-- partition: practice_slug
-- materialized: view
-- The per-source staging models share one column list (each source reader maps to the canonical
-- contract before load), and the union matches them by name; a practice is read by one format at a time.

select * from stg_canonical__treatments

union all by name

select * from stg_fhir__procedures

union all by name

select * from stg_opendental__procedures
