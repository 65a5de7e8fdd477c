"""Operational-store tables: identity."""
