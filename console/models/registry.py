"""Every table of the operational store: importing this module registers them all in
`SQLModel.metadata` (console/migrations: `target_metadata`)."""

from console.models import identity, learning, outreach, practice, work

__all__ = ["identity", "learning", "outreach", "practice", "work"]
