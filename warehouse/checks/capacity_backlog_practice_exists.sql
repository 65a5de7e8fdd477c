-- every practice with open tasks in the backlog is a known practice
select
    backlog.practice_slug,
    backlog.kind
from mart_capacity_backlog as backlog
anti join mart_practices as practices
    on backlog.practice_slug = practices.practice_slug
