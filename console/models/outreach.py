"""Operational-store tables: outreach."""
