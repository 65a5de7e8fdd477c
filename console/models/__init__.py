"""SQLModel tables of the operational store, one module per area; importing this registers all.

May import: loopdesk_core.
"""

from console.models import identity, learning, outreach, practice, work

__all__ = ["identity", "learning", "outreach", "practice", "work"]
