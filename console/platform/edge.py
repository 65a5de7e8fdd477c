"""The HTTP edge: who the client is (trusted proxies), security headers on every route,
internal endpoints kept private, and access-log redaction of secrets in paths."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Sent on every response unless the route set its own (the referral form
# denies all framing). Same-origin framing stays allowed so Streamlit's own component iframes
# work; no other site can frame the console (clickjacking).
SECURITY_HEADERS = {
    "x-frame-options": "SAMEORIGIN",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": "frame-ancestors 'self'; object-src 'none'; base-uri 'self'",
}
# Streamlit's internal endpoints that describe the server to anyone who asks.
PRIVATE_PATHS = ("/_stcore/metrics",)
_REFERRAL_PATH = re.compile(r"^/r/[^/?\s]+")
_UNSUBSCRIBE_PATH = re.compile(r"^/u/[^/?\s]+")


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address.strip())
    except ValueError:
        return None


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    parsed = _parse(address)
    return parsed is not None and any(parsed in network for network in networks)


def client_address(request: Request, networks: Iterable[Network]) -> str:
    """The client's address: the TCP peer, unless the peer is a trusted proxy.

    Behind trusted proxies, X-Forwarded-For is read right to left and the first address that
    is not itself a trusted proxy is the client (what a client writes into the header's left
    end is never believed). With no trusted proxies the header is ignored altogether.
    """
    peer = request.client.host if request.client else "unknown"
    return address_from(peer, request.headers.getlist("x-forwarded-for"), networks)


def address_from(peer: str, forwarded: Iterable[str], networks: Iterable[Network]) -> str:
    """`client_address` from its parts: the peer and the X-Forwarded-For header values."""
    trusted = tuple(networks)
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in ",".join(forwarded).split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop if _parse(hop) is not None else peer
    return hops[0] if hops else peer


def login_client(peer: str | None, forwarded: Iterable[str]) -> str:
    """The console login limiter's client (Streamlit gives the peer and the headers)."""
    from loopdesk_core.settings import get_settings

    if not peer:
        return "local"
    return address_from(peer, forwarded, get_settings().trusted_networks)


def client_key(request: Request, purpose: str = "form") -> str:
    """An HMAC of the client's address: enough to rate-limit, useless to identify anyone.

    The address is the TCP peer unless that is one of LOOPDESK_TRUSTED_PROXIES (see
    `client_address`): a forwarded header from anyone else is ignored.
    """
    from loopdesk_core.settings import get_settings

    settings = get_settings()
    host = client_address(request, settings.trusted_networks)
    return hmac.new(settings.signing_key(), f"{purpose}|{host}".encode(),
                    hashlib.sha256).hexdigest()[:32]


class EdgeMiddleware:
    """ASGI middleware: security headers on every HTTP response, private paths answered 404."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path", "").rstrip("/") in PRIVATE_PATHS:
            await _not_found(send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                present = {bytes(name).lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


async def _not_found(send: Send) -> None:
    body = b"Not Found"
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    headers += [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def redact_path(path: str) -> str:
    """An access-log path without its query string, with a referral code or unsubscribe token
    masked."""
    path = _REFERRAL_PATH.sub("/r/[code]", path.split("?", 1)[0])
    return _UNSUBSCRIBE_PATH.sub("/u/[token]", path)
