"""The rules for contacting a person: the contact gate (calling windows, consent, fatigue
budget: `gate`), consent events and revocations (`consent`) and the opt-out words with their
matcher (`opt_out`), which every channel's replies go through.

May import: console.identity, console.platform, console.models, loopdesk_core.
"""
