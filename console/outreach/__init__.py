"""Automated outreach and what comes back: the outreach passes (`automation`), replies and
opt-outs by SMS or email (`replies`, `inbound_smtp`), unsubscribe links (`unsubscribe`),
the referral form (`referral_form`) and their HTTP routes (`routes`).

May import: console.work, console.messaging, console.contact, console.identity,
console.platform, console.models, loopdesk_core, warehouse.
"""
