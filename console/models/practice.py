"""Operational-store tables: practice."""
