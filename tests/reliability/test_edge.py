"""Findings 3, 4, 5 and 8 (HTTP edge) against a real `loopdesk serve` (uvicorn) on loopback.

Each fails on the code before issue 10: spoofed X-Forwarded-For posts were accepted after a
lock-out (uvicorn trusted loopback proxies); a chunked 64 MiB post was read whole before the
413; 25 fields were a 500; every bad report token appended an audit row; `/` had no
X-Frame-Options; `/_stcore/metrics` answered anyone; referral codes were in the access log.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import select

from console.messaging.referral_links import code_text, referral_code_for
from console.models.identity import AuditEvent
from console.outreach.referral_form import RATE_LIMIT
from console.platform.db import get_engine, init_db, new_session
from console.reporting.reports import DENIAL_LIMIT
from tests.factories import add_practice
from tests.reliability.serving import Served, serve
from tests.worlds import FIXED_NOW, TEST_SECRET

NOW = datetime.fromisoformat(FIXED_NOW)
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Edge:
    """Two servers on one store: `direct` (no trusted proxy) and `proxied` (trusts loopback)."""

    direct: Served
    proxied: Served
    code: str
    home: Path


def _request(url: str, method: str, path: str, *, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _post_form(url: str, code: str, fields: dict[str, str], client: str | None = None) -> int:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if client is not None:
        headers["X-Forwarded-For"] = client
    status, _, _ = _request(url, "POST", f"/r/{code}",
                            body=urllib.parse.urlencode(fields).encode(), headers=headers)
    return status


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    root = tmp_path_factory.mktemp("edge")
    home = root / "home"
    env = {**os.environ, "LOOPDESK_HOME": str(home), "LOOPDESK_NOW": FIXED_NOW,
           "LOOPDESK_SECRET_KEY": TEST_SECRET}
    env.pop("LOOPDESK_DATABASE_URL", None)
    env.pop("LOOPDESK_TRUSTED_PROXIES", None)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("LOOPDESK_HOME", "LOOPDESK_NOW", "LOOPDESK_SECRET_KEY"):
            patch.setenv(name, env[name])
        patch.delenv("LOOPDESK_DATABASE_URL", raising=False)
        engine = get_engine()
        init_db(engine)
        with new_session(engine) as session:
            add_practice(session, "alpha")
            code = code_text(referral_code_for(session=session, practice_slug="alpha",
                                               patient_id="P1", now=NOW))
        with serve(env, root / "direct.log") as direct, \
                serve({**env, "LOOPDESK_TRUSTED_PROXIES": "127.0.0.1"},
                      root / "proxied.log") as proxied:
            yield Edge(direct=direct, proxied=proxied, code=code, home=home)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_forwarded_for_from_an_untrusted_peer_is_ignored(edge: Edge) -> None:
    """Finding 3: after the lock-out, spoofed X-Forwarded-For posts stay locked out."""
    statuses = [_request(edge.direct.url, "GET", f"/r/{edge.code}")[0]
                for _ in range(RATE_LIMIT)]
    assert set(statuses) == {200}
    assert _request(edge.direct.url, "GET", f"/r/{edge.code}")[0] == 429
    spoofed = [_post_form(edge.direct.url, edge.code, {"first_name": "Sam"},
                          client=f"203.0.113.{n}") for n in range(10)]
    assert spoofed == [429] * 10


def test_behind_a_trusted_proxy_each_visitor_has_a_bucket(edge: Edge) -> None:
    """Finding 3: with LOOPDESK_TRUSTED_PROXIES the forwarded client counts, not the proxy."""
    url = edge.proxied.url
    for _ in range(RATE_LIMIT):
        assert _request(url, "GET", f"/r/{edge.code}",
                        headers={"X-Forwarded-For": "198.51.100.1"})[0] == 200
    assert _request(url, "GET", f"/r/{edge.code}",
                    headers={"X-Forwarded-For": "198.51.100.1"})[0] == 429
    # What the visitor writes at the left of the header is not believed either.
    assert _request(url, "GET", f"/r/{edge.code}",
                    headers={"X-Forwarded-For": "192.0.2.77, 198.51.100.1"})[0] == 429
    assert _request(url, "GET", f"/r/{edge.code}",
                    headers={"X-Forwarded-For": "198.51.100.2"})[0] == 200


def test_a_huge_chunked_post_is_cut_off_without_growing_the_server(edge: Edge) -> None:
    """Finding 4: the form reads at most its limit; 64 MiB chunked does not sit in memory."""
    parsed = urllib.parse.urlsplit(edge.proxied.url)
    before = _rss_kib(edge.proxied.process.pid)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    chunk = b"a" * (1 << 20)
    status = None
    try:
        connection.putrequest("POST", f"/r/{edge.code}")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("X-Forwarded-For", "198.51.100.9")
        connection.endheaders()
        for _ in range(64):
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.send(b"0\r\n\r\n")
        status = connection.getresponse().status
    except (BrokenPipeError, ConnectionResetError):
        status = 413  # the server answered and hung up while we were still sending
    finally:
        connection.close()
    grown_mib = (_rss_kib(edge.proxied.process.pid) - before) / 1024
    assert status == 413
    assert grown_mib < 16, f"server grew by {grown_mib:.0f} MiB"


def test_a_post_with_many_fields_is_a_400_not_a_500(edge: Edge) -> None:
    """Finding 4: more fields than the form has is refused cleanly."""
    fields = {f"f{n}": "x" for n in range(30)}
    assert _post_form(edge.proxied.url, edge.code, fields, client="198.51.100.10") == 400
    assert "Traceback" not in edge.proxied.log.read_text()


def test_denied_report_requests_are_rate_limited_and_audited_once(edge: Edge) -> None:
    """Finding 5: 30 bad tokens from one source: DENIAL_LIMIT 401s, then 429s, one audit row."""
    def denied_rows() -> int:
        with new_session(get_engine(f"sqlite:///{edge.home / 'loopdesk.db'}")) as session:
            return len(session.exec(select(AuditEvent)
                                    .where(AuditEvent.outcome == "denied")).all())

    before = denied_rows()
    statuses = [
        _request(edge.proxied.url, "GET", "/api/v1/report?token=forged-token",
                 headers={"X-Forwarded-For": "198.51.100.20"})[0]
        for _ in range(30)
    ]
    assert statuses == [401] * DENIAL_LIMIT + [429] * (30 - DENIAL_LIMIT)
    assert denied_rows() - before == 1
    # Another source is still answered (and audited once).
    assert _request(edge.proxied.url, "GET", "/api/v1/report?token=forged",
                    headers={"X-Forwarded-For": "198.51.100.21"})[0] == 401
    assert denied_rows() - before == 2


def test_every_route_sends_security_headers(edge: Edge) -> None:
    """Finding 8: no other site can frame the console at /; the API and form carry headers too."""
    expected = {"/": ("SAMEORIGIN", "frame-ancestors 'self'"),
                "/api/health": ("SAMEORIGIN", "frame-ancestors 'self'"),
                f"/r/{edge.code}": ("DENY", "frame-ancestors 'none'")}
    for path, (frame_option, ancestors) in expected.items():
        _, headers, _ = _request(edge.proxied.url, "GET", path,
                                 headers={"X-Forwarded-For": "198.51.100.30"})
        assert headers.get("x-frame-options") == frame_option, path
        assert ancestors in headers.get("content-security-policy", ""), path
        assert headers.get("x-content-type-options") == "nosniff", path


def test_internal_metrics_are_not_public(edge: Edge) -> None:
    """Finding 8: /_stcore/metrics is not served."""
    status, _, body = _request(edge.direct.url, "GET", "/_stcore/metrics")
    assert status == 404
    assert b"session" not in body


def test_referral_codes_stay_out_of_the_access_log(edge: Edge) -> None:
    """Finding 8: the access log shows /r/[code], never the code."""
    _request(edge.proxied.url, "GET", f"/r/{edge.code}",
             headers={"X-Forwarded-For": "198.51.100.40"})
    _request(edge.proxied.url, "GET", "/api/v1/report?token=secret-in-query",
             headers={"X-Forwarded-For": "198.51.100.41"})
    logs = edge.proxied.log.read_text() + edge.direct.log.read_text()
    assert "/r/[code]" in logs
    assert edge.code not in logs
    assert "secret-in-query" not in logs
    assert json.dumps(edge.code)[1:-1] not in logs
