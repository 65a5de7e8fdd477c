-- every practice-week of logged coordinator minutes belongs to a known practice (its contracted
-- hours come from mart_practices)
select
    weekly.practice_slug,
    weekly.week_start
from mart_capacity_weekly as weekly
anti join mart_practices as practices
    on weekly.practice_slug = practices.practice_slug
