"""The name a call script gives the coordinator: a person's first name, never a role mailbox."""

from __future__ import annotations

import pytest

from console.views.work import speaker


@pytest.mark.parametrize(("email", "said"), [
    ("ana.lee@agency.test", "Ana"),
    ("bob@agency.test", "Bob"),
    # The demo's logins: the script read "this is Coordinator from Pacific Smile Studio".
    ("coordinator@demo.loopdesk.test", "(your name)"),
    ("coordinator.east@demo.loopdesk.test", "(your name)"),
    ("Info@clinic.test", "(your name)"),
    ("j2@agency.test", "(your name)"),
])
def test_the_script_names_the_coordinator_only_from_a_persons_mailbox(email: str,
                                                                       said: str) -> None:
    assert speaker(email) == said
