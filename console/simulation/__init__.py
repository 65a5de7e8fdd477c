"""The agency simulator: the real services driven by simulated people (docs/simulation.md)."""
