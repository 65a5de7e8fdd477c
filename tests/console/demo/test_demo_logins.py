"""The logins `loopdesk demo` prints: what each role will see comes from the page registry."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.console import Console

from console.demo.run import create_demo_users, print_logins
from console.models.identity import Role
from console.models.practice import PracticeSettings
from console.platform.db import get_engine, init_db, session_scope
from console.views.navigation import PAGES_BY_ROLE
from tests.conftest import FIXED_NOW

NOW = datetime.fromisoformat(FIXED_NOW)
NAMES = {"alpha-dental": "Alpha Dental", "beta-lasik": "Beta LASIK",
         "gamma-med-spa": "Gamma Med Spa", "delta-ortho": "Delta Orthodontics"}


def _printed(home: Path) -> dict[str, str]:
    init_db(get_engine())
    with session_scope() as session:
        for slug, name in NAMES.items():
            session.add(PracticeSettings(practice_slug=slug, name=name, specialty="dental",
                                         timezone="America/Chicago"))
        session.commit()
    logins = create_demo_users(now=NOW)
    out = Console(record=True, width=1000)
    print_logins(logins, url="http://127.0.0.1:8790/", console=out)
    rows = {}
    for line in out.export_text().splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 4 and "@" in cells[1]:
            rows[cells[1]] = " | ".join(cells)
    return rows


def test_each_printed_login_lists_every_page_its_role_will_see(loopdesk_home: Path) -> None:
    rows = _printed(loopdesk_home)
    manager = rows["manager@demo.loopdesk.test"]
    # All ten of the manager's pages, in the navigation's order (the table listed six).
    titles = [page.title for page in PAGES_BY_ROLE[Role.manager]]
    assert len(titles) >= 10
    positions = [manager.index(title) for title in titles]
    assert positions == sorted(positions)
    assert "the whole agency (4 practices)" in manager
    for email in ("coordinator@demo.loopdesk.test", "coordinator.east@demo.loopdesk.test"):
        assert all(page.title in rows[email] for page in PAGES_BY_ROLE[Role.coordinator])
    assert "all 4 practices" in rows["coordinator@demo.loopdesk.test"]
    assert "the queue of 2 practices" in rows["coordinator.east@demo.loopdesk.test"]
    [owner] = [row for email, row in rows.items() if email.startswith("owner.alpha-dental")]
    assert all(page.title in owner for page in PAGES_BY_ROLE[Role.client_owner])
    assert "Alpha Dental only" in owner
    # Roles read as words, not slugs.
    assert owner.startswith("client owner |")
    assert not any("client_owner" in row for row in rows.values())
