"""The rules for contacting a person: the contact gate (calling windows, consent, fatigue
budget: `gate`) and consent events and revocations (`consent`). Opt-out words are still
recognised in `console/outreach/replies.py` (they move here as `opt_out` with issue 9c).

May import: console.identity, console.platform, console.models, loopdesk_core.
"""
