"""Operational-store tables: work."""
