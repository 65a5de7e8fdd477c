"""Token issuing and verification: every forgery is `Unauthorised` (SECURITY 1-3)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from console.identity.tokens import (
    AUDIENCES,
    ISSUER,
    TokenKind,
    Unauthorised,
    decode_reply_token,
    decode_token,
    issue_reply_token,
    issue_token,
    new_delivery_key,
    new_token_id,
)
from loopdesk_core.settings import InsecureSecretError, get_settings
from tests.conftest import TEST_SECRET
from tests.console.access_helpers import NOW


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCES[TokenKind.report],
        "sub": "practice:alpha",
        "typ": "report",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(hours=1)).timestamp()),
        "jti": "abc",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _sign(claims: dict[str, Any], key: str | bytes = TEST_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_round_trip_returns_claims(loopdesk_home: Path) -> None:
    token = issue_token(
        kind=TokenKind.report, subject="practice:alpha", now=NOW, lifetime=timedelta(days=1),
        extra_claims={"practice": "alpha"},
    )
    claims = decode_token(token, kind=TokenKind.report, now=NOW)
    assert claims["sub"] == "practice:alpha"
    assert claims["practice"] == "alpha"
    assert claims["typ"] == "report"


def test_hand_made_valid_token_is_accepted(loopdesk_home: Path) -> None:
    """Guards the forgery tests below: only the one changed field makes them fail."""
    assert decode_token(_sign(_claims()), kind=TokenKind.report, now=NOW)["jti"] == "abc"


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": None},
        {"aud": None},
        {"iat": None},
        {"iss": None},
        {"sub": None},
        {"typ": None},
        {"aud": "loopdesk:console"},
        {"iss": "someone-else"},
        {"typ": "session"},
        {"exp": "tomorrow"},
        {"exp": True},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_missing_or_wrong_claims_are_refused(
    loopdesk_home: Path, overrides: dict[str, Any]
) -> None:
    with pytest.raises(Unauthorised):
        decode_token(_sign(_claims(**overrides)), kind=TokenKind.report, now=NOW)


def test_alg_none_is_refused(loopdesk_home: Path) -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims()).encode())
    with pytest.raises(Unauthorised):
        decode_token(f"{header}.{body}.", kind=TokenKind.report, now=NOW)


def test_wrong_key_is_refused(loopdesk_home: Path) -> None:
    token = _sign(_claims(), key="another-secret-that-is-also-long-enough-0123")
    with pytest.raises(Unauthorised):
        decode_token(token, kind=TokenKind.report, now=NOW)


def test_hs_rs_confusion_is_refused(loopdesk_home: Path) -> None:
    """An HS256 token signed with an RSA public key as the HMAC secret, and a real RS256 one."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims()).encode())
    import hashlib
    import hmac

    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    confused = f"{header}.{body}.{_b64(signature)}"
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    rs256 = _sign(_claims(), key=private_pem.decode(), alg="RS256")
    for token in (confused, rs256):
        with pytest.raises(Unauthorised):
            decode_token(token, kind=TokenKind.report, now=NOW)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 5000, "..", "e30.e30.e30"])
def test_garbage_is_refused(loopdesk_home: Path, garbage: str) -> None:
    with pytest.raises(Unauthorised):
        decode_token(garbage, kind=TokenKind.report, now=NOW)


def test_tampered_payload_is_refused(loopdesk_home: Path) -> None:
    header, _, signature = _sign(_claims()).split(".")
    body = _b64(json.dumps(_claims(sub="practice:beta")).encode())
    with pytest.raises(Unauthorised):
        decode_token(f"{header}.{body}.{signature}", kind=TokenKind.report, now=NOW)


def test_expiry_has_sixty_seconds_leeway_and_no_more(loopdesk_home: Path) -> None:
    token = issue_token(
        kind=TokenKind.session, subject="1", now=NOW, lifetime=timedelta(minutes=5)
    )
    expiry = NOW + timedelta(minutes=5)
    decode_token(token, kind=TokenKind.session, now=expiry + timedelta(seconds=59))
    with pytest.raises(Unauthorised):
        decode_token(token, kind=TokenKind.session, now=expiry + timedelta(seconds=61))


def test_token_from_the_future_is_refused(loopdesk_home: Path) -> None:
    token = issue_token(
        kind=TokenKind.session, subject="1", now=NOW + timedelta(minutes=5),
        lifetime=timedelta(hours=1),
    )
    with pytest.raises(Unauthorised):
        decode_token(token, kind=TokenKind.session, now=NOW)


@pytest.mark.parametrize("issued", list(AUDIENCES))
def test_kinds_are_mutually_exclusive(loopdesk_home: Path, issued: TokenKind) -> None:
    token = issue_token(kind=issued, subject="1", now=NOW, lifetime=timedelta(hours=1))
    for other in TokenKind:
        if other is issued:
            assert decode_token(token, kind=other, now=NOW)["typ"] == issued.value
        else:
            with pytest.raises(Unauthorised):
                decode_token(token, kind=other, now=NOW)
    with pytest.raises(Unauthorised):
        decode_reply_token(token)


def test_reply_token_round_trips_in_any_case_and_is_no_other_kind(loopdesk_home: Path) -> None:
    key = new_delivery_key()
    token = issue_reply_token(key)
    assert len(token) <= 64 and token == token.lower()  # fits a local part; case-folding safe
    assert decode_reply_token(token) == key and decode_reply_token(token.upper()) == key
    for kind in TokenKind:
        with pytest.raises(Unauthorised):
            decode_token(token, kind=kind, now=NOW)
    with pytest.raises(ValueError):
        issue_token(kind=TokenKind.reply, subject=key, now=NOW, lifetime=timedelta(hours=1))


def test_edited_or_forged_reply_token_is_refused(loopdesk_home: Path) -> None:
    key = new_delivery_key()
    token = issue_reply_token(key)
    other_key = new_delivery_key()
    edited_mac = token[:-1] + ("a" if token[-1] != "a" else "b")
    for bad in (edited_mac, f"r-{other_key}-{token.rsplit('-', 1)[1]}", f"r-{key}",
                token + "-x", "postmaster", "", "r--", "x" * 70):
        with pytest.raises(Unauthorised):
            decode_reply_token(bad)


def test_short_secret_is_refused(loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPDESK_SECRET_KEY", "too-short")
    with pytest.raises(InsecureSecretError):
        issue_token(kind=TokenKind.session, subject="1", now=NOW, lifetime=timedelta(hours=1))
    with pytest.raises(InsecureSecretError):
        get_settings().signing_key()


def test_generated_secret_file_is_private(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOOPDESK_SECRET_KEY")
    token = issue_token(kind=TokenKind.session, subject="1", now=NOW, lifetime=timedelta(hours=1))
    assert decode_token(token, kind=TokenKind.session, now=NOW)["sub"] == "1"
    assert (loopdesk_home / "secret.key").stat().st_mode & 0o777 == 0o600


def test_token_ids_never_read_as_a_command_line_option() -> None:
    """`revoke-link <id>` takes the printed id as it is: no id begins with "-" (one in 64
    URL-safe ids did, and the CLI refused it as an unknown option)."""
    ids = [new_token_id() for _ in range(2000)]
    assert all(len(i) == 48 and set(i) <= set("0123456789abcdef") for i in ids)
    assert len(set(ids)) == len(ids)
