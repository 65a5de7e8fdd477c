-- grain: one row per lead exported by a practice, from every source format (stg_canonical__referrals, stg_opendental__refattach)
-- key: practice_slug, lead_id
-- partition: practice_slug
-- materialized: view
-- The per-source staging models share one column list (each source reader maps to the canonical
-- contract before load), and the union matches them by name; a practice is read by one format at a time.

select * from stg_canonical__referrals

union all by name

select * from stg_opendental__refattach
