"""The coordinators' work queue: claiming the next task (`claims`), ranking with fair share
and the gate (`ranking`), the task refresh from the warehouse (`refresh`, with its candidate
`sources`, operational `facts` and scalar `rows`), logging outcomes (`dispositions`), leads
captured (`leads`), closing the loop with the referrer (`loop_closure`), time entries
(`time_entries`) and the practices' hours this week (`other_work`).

May import: console.scoring, console.messaging, console.contact, console.identity,
console.platform, console.models, loopdesk_core, warehouse.
"""
