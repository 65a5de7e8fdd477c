"""Code that exists only for `loopdesk demo`: the orchestration (`run`), the simulated agency
history (`history`, planned by `plan` inside opening hours from `hours`) and the `demo`
command (`commands`, registered by console/cli.py). Nothing else in the console imports it.

May import: console.web, console.views, console.lifecycle, console.work, console.identity,
console.platform, console.models, loopdesk_core, warehouse, pipelines.
"""
