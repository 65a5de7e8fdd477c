"""All token code: issuing and strictly verifying every token kind (SECURITY 1-3).

JWTs (session, report link, unsubscribe link) and the compact reply token that sits in an
email address's local part (64 characters at most, RFC 5321, so it cannot be a JWT). Each kind
has its own audience or MAC label, so no kind ever verifies as another (RFC 8725 section 3.12).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from console.platform.errors import NotAuthorised
from loopdesk_core.settings import get_settings

ALGORITHM = "HS256"
ALGORITHMS = [ALGORITHM]
ISSUER = "loopdesk"
LEEWAY_SECONDS = 60
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "typ")


class TokenKind(StrEnum):
    """What a token is for; kinds never stand in for one another (RFC 8725 section 3.12)."""

    session = "session"
    report = "report"
    referral = "referral"
    unsubscribe = "unsubscribe"
    reply = "reply"
    # A one-minute code the console page trades for its HttpOnly session cookie.
    handoff = "handoff"


# A distinct audience per kind as well as `typ`, so a kind mix-up fails two independent checks.
AUDIENCES: Mapping[TokenKind, str] = {
    TokenKind.session: "loopdesk:console",
    TokenKind.report: "loopdesk:report",
    TokenKind.referral: "loopdesk:referral",
    TokenKind.unsubscribe: "loopdesk:unsubscribe",
    TokenKind.handoff: "loopdesk:handoff",
}
# Reply tokens: `r-<key>-<mac>` in lower case only, because mail systems may fold the case of
# a local part. `key` is a message's random delivery key, `mac` an HMAC over kind and key.
REPLY_PREFIX = "r-"
REPLY_MAC_CHARS = 16
REPLY_KEY_PATTERN = re.compile(r"^[a-z2-7]{16,40}$")


class Unauthorised(NotAuthorised):
    """The token is not acceptable; deliberately says nothing about why."""

    def __init__(self, message: str = "unauthorised") -> None:
        super().__init__(message)


def new_token_id() -> str:
    """A random, unguessable token id (`jti`): 192 random bits as 48 hex digits.

    Hex, not URL-safe base64: one id in 64 of the latter began with "-", and the CLI then
    read `loopdesk revoke-link <id>` as an unknown option, so that link could not be revoked
    as printed (ids issued before this change and beginning with "-" need `revoke-link -- <id>`).
    """
    return secrets.token_hex(24)


def issue_token(
    *,
    kind: TokenKind,
    subject: str,
    now: datetime,
    lifetime: timedelta,
    jti: str | None = None,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """A signed token of `kind` for `subject`, valid from `now` for `lifetime`."""
    if kind not in AUDIENCES:
        raise ValueError(f"{kind} tokens are not JWTs")
    if lifetime <= timedelta(0):
        raise ValueError("a token lifetime must be positive")
    claims: dict[str, Any] = dict(extra_claims or {})
    claims.update(
        {
            "iss": ISSUER,
            "aud": AUDIENCES[kind],
            "sub": subject,
            "typ": kind.value,
            "iat": int(now.timestamp()),
            "exp": int((now + lifetime).timestamp()),
            "jti": jti or new_token_id(),
        }
    )
    from jose import jwt  # python-jose loads cryptography: not at start-up (`loopdesk inbound`)

    return jwt.encode(claims, get_settings().signing_key(), algorithm=ALGORITHM)


def decode_token(token: str, *, kind: TokenKind, now: datetime) -> dict[str, Any]:
    """The claims of a valid token of `kind` at `now`; anything else raises `Unauthorised`."""
    if kind not in AUDIENCES:
        raise Unauthorised()  # reply tokens are never JWTs: see decode_reply_token
    # The key is read outside the catch-all: a short secret is a configuration error, not a 401.
    key = get_settings().signing_key()
    try:
        claims = _verify(token, key=key, kind=kind)
    except Unauthorised:
        raise
    except Exception as error:
        # python-jose raises JWTError, JWKError, JWTClaimsError, ExpiredSignatureError and, for
        # malformed input, plain ValueError/TypeError/KeyError: every one of them is a 401.
        raise Unauthorised() from error
    _check_claims(claims, kind=kind, now=now)
    return claims


def _verify(token: str, *, key: bytes, kind: TokenKind) -> dict[str, Any]:
    """Check the header and signature; python-jose's own clock-based checks are turned off."""
    from jose import jwt

    if not isinstance(token, str) or not token or len(token) > 4096:
        raise Unauthorised()
    header = jwt.get_unverified_header(token)
    # Refuse `none`, RS*/ES* and anything else before the library sees the key.
    if header.get("alg") != ALGORITHM:
        raise Unauthorised()
    claims = jwt.decode(
        token,
        key,
        algorithms=ALGORITHMS,
        audience=AUDIENCES[kind],
        issuer=ISSUER,
        options={
            # Time is checked against the one clock below, not the library's wall clock.
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
            "verify_aud": True,
            "verify_iss": True,
            "verify_sub": True,
            "verify_jti": True,
        },
    )
    if not isinstance(claims, dict):
        raise Unauthorised()
    return claims


def _check_claims(claims: Mapping[str, Any], *, kind: TokenKind, now: datetime) -> None:
    """Presence, kind, audience and time checks python-jose 3.5 does not do (or not strictly)."""
    if any(name not in claims for name in REQUIRED_CLAIMS):
        raise Unauthorised()
    if claims["typ"] != kind.value or claims["iss"] != ISSUER:
        raise Unauthorised()
    if claims["aud"] != AUDIENCES[kind]:
        raise Unauthorised()
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise Unauthorised()
    exp, iat = claims["exp"], claims["iat"]
    if not _is_number(exp) or not _is_number(iat):
        raise Unauthorised()
    instant = now.timestamp()
    if exp < instant - LEEWAY_SECONDS:
        raise Unauthorised()
    if iat > instant + LEEWAY_SECONDS:
        raise Unauthorised()
    nbf = claims.get("nbf")
    if nbf is not None and (not _is_number(nbf) or nbf > instant + LEEWAY_SECONDS):
        raise Unauthorised()


def _is_number(value: object) -> bool:
    """Whether a claim is a JSON number (bool is excluded: `true` is not a time)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def new_delivery_key() -> str:
    """A random key naming one outgoing message (128 bits, lower-case base32)."""
    return base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()


def _reply_mac(key: str) -> str:
    message = f"loopdesk:{TokenKind.reply.value}|{key}".encode()
    digest = hmac.new(get_settings().signing_key(), message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:REPLY_MAC_CHARS]


def issue_reply_token(delivery_key: str) -> str:
    """The reply token of a message: the local part of its Reply-To and bounce address."""
    if not REPLY_KEY_PATTERN.match(delivery_key):
        raise ValueError("a delivery key is lower-case base32")
    return f"{REPLY_PREFIX}{delivery_key}-{_reply_mac(delivery_key)}"


def decode_reply_token(token: str) -> str:
    """The delivery key a valid reply token names (any case); anything else is `Unauthorised`."""
    if not isinstance(token, str) or len(token) > 64:
        raise Unauthorised()
    token = token.lower()
    if not token.startswith(REPLY_PREFIX) or token.count("-") != 2:
        raise Unauthorised()
    key, _, mac = token[len(REPLY_PREFIX):].partition("-")
    if not REPLY_KEY_PATTERN.match(key):
        raise Unauthorised()
    if not hmac.compare_digest(_reply_mac(key).encode(), mac.encode()):
        raise Unauthorised()
    return key
