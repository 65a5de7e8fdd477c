-- every console task measured for its SLA belongs to a known practice
select
    tasks.practice_slug,
    tasks.task_id
from mart_sla_tasks as tasks
anti join mart_practices as practices
    on tasks.practice_slug = practices.practice_slug
