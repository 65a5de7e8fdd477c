"""The DuckDB warehouse: SQL models, data checks, snapshot publishing and read-side queries.

May import: loopdesk_core.
"""
