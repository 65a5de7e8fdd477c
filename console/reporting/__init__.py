"""The monthly client report: chart specs shared with the console, the PDF, and its delivery.

May import: console.messaging, console.identity, console.platform, console.models,
loopdesk_core, warehouse.
"""
