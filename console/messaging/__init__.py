"""Sending messages: the outbox with its retries and the contact gate at send time (`outbox`),
message templates (`templates`), personal referral links (`referral_links`), email identity,
reply tokens and bounces (`delivery`) and the channels that deliver (`channels/`: SMTP email,
SMS).

May import: console.contact, console.identity, console.platform, console.models, loopdesk_core.
"""
