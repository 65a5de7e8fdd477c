"""Extract, validate, quarantine and load practice exports; derive demo and scale data.

May import: warehouse, loopdesk_core.
"""
