"""The console's pages: file, title and icon of each, and which pages each role sees.

The one registry: the router (`streamlit_app.py`, through `pages.registry`) registers a
user's pages from it, and `loopdesk demo` prints what each login will see from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.identity.access import CurrentUser
from console.models.identity import Role


@dataclass(frozen=True)
class PageSpec:
    """One console page: its file under pages/, its title and icon."""

    path: str
    title: str
    icon: str


QUEUE = PageSpec("pages/my_queue.py", "My queue", ":material/call:")
LEADS = PageSpec("pages/leads.py", "Leads", ":material/person_add:")
LOOPS = PageSpec("pages/loop_closures.py", "Loop closures", ":material/sync:")
SLA = PageSpec("pages/sla_board.py", "SLA board", ":material/timer:")
CAPACITY = PageSpec("pages/capacity.py", "Capacity", ":material/bar_chart:")
CLIENTS = PageSpec("pages/clients.py", "Clients", ":material/store:")
USERS = PageSpec("pages/users.py", "Users", ":material/group:")
QUALITY = PageSpec("pages/data_quality.py", "Data quality", ":material/rule:")
TEMPLATES = PageSpec("pages/templates.py", "Templates", ":material/mail:")
AUDIT = PageSpec("pages/audit_log.py", "Audit log", ":material/history:")
LINKS = PageSpec("pages/report_links.py", "Report links", ":material/link:")
REPORT = PageSpec("pages/report.py", "Report", ":material/insights:")
LEARNED = PageSpec("pages/learned.py", "What the queue learned", ":material/school:")
STAFFING = PageSpec("pages/staffing.py", "Staffing what-if", ":material/groups:")

_MANAGER_PAGES = (SLA, CAPACITY, CLIENTS, TEMPLATES, USERS, QUALITY, AUDIT, LEARNED,
                  STAFFING, LINKS)
PAGES_BY_ROLE: dict[Role, tuple[PageSpec, ...]] = {
    Role.coordinator: (QUEUE, LEADS, LOOPS),
    Role.manager: _MANAGER_PAGES,
    Role.admin: _MANAGER_PAGES,
    Role.client_owner: (REPORT,),
}


def pages_for_role(role: Role | str) -> tuple[PageSpec, ...]:
    """The pages a role may open, in navigation order."""
    return PAGES_BY_ROLE.get(Role(role), ())


def pages_for(user: CurrentUser) -> tuple[PageSpec, ...]:
    """The pages the user's role may open (the navigation registers only these)."""
    return pages_for_role(user.role)
