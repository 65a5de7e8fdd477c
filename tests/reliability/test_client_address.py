"""Finding 3 at the unit level: which address counts for rate limits (console.platform.edge)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from console.platform.edge import address_from, login_client

PROXY = (ipaddress.ip_network("10.0.0.5/32"), ipaddress.ip_network("10.0.1.0/24"))


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert address_from("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"


def test_an_untrusted_peer_cannot_forward() -> None:
    assert address_from("198.51.100.7", ["203.0.113.9"], PROXY) == "198.51.100.7"


def test_behind_trusted_proxies_the_first_untrusted_hop_from_the_right_counts() -> None:
    # The client wrote a fake address at the left; the proxy chain appended the real one.
    assert address_from("10.0.0.5", ["192.0.2.1, 198.51.100.7, 10.0.1.3"], PROXY) \
        == "198.51.100.7"
    assert address_from("10.0.0.5", ["198.51.100.7", "10.0.1.3"], PROXY) == "198.51.100.7"


def test_garbage_in_the_header_falls_back_to_the_peer() -> None:
    assert address_from("10.0.0.5", ["not-an-ip"], PROXY) == "10.0.0.5"
    assert address_from("10.0.0.5", [], PROXY) == "10.0.0.5"


def test_the_console_login_uses_the_same_rule(loopdesk_home: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert login_client("127.0.0.1", ["203.0.113.9"]) == "127.0.0.1"
    monkeypatch.setenv("LOOPDESK_TRUSTED_PROXIES", "127.0.0.1")
    assert login_client("127.0.0.1", ["203.0.113.9"]) == "203.0.113.9"
    assert login_client(None, []) == "local"
