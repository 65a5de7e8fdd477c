"""The console's session cookie: a reload, a new tab or a deep link stays signed in.

The cookie carries the signed session token (which names the server-side session); it is
`HttpOnly`, `Secure` and `SameSite=Strict`, and it is set and cleared only by the app's own
HTTP routes (`POST /auth/session`, `POST /auth/logout`). A Streamlit page cannot set a cookie,
so after a login the page holds a one-minute *handoff* code (a signed token naming the same
session, never the session token itself) and its browser trades it for the cookie. Every
rerun still resolves the session in the store (idle and absolute limits, role and practices
re-read: SECURITY 4-5), so a cookie is never worth more than the live session behind it, and
logging out ends that session in every tab.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from console.identity.auth import end_session
from console.identity.tokens import TokenKind, Unauthorised, decode_token, issue_token, new_token_id
from console.models.identity import UserSession
from loopdesk_core.clock import as_utc
from loopdesk_core.settings import get_settings

COOKIE_NAME = "loopdesk_session"
HANDOFF_LIFETIME = timedelta(minutes=1)
# What a signed token may contain (base64url parts and dots): checked before a code is
# written into the page, so nothing else can ever reach the browser that way.
TOKEN_CHARACTERS = re.compile(r"^[A-Za-z0-9_\-.]{20,4096}$")


def handoff_code(*, session_token: str, now: datetime) -> str:
    """A one-minute code naming the session behind `session_token` (for the cookie route)."""
    claims = decode_token(session_token, kind=TokenKind.session, now=now)
    return issue_token(kind=TokenKind.handoff, subject=str(claims["sub"]), now=now,
                       lifetime=HANDOFF_LIFETIME, jti=new_token_id(),
                       extra_claims={"sid": str(claims["jti"])})


def cookie_token(*, session: Session, code: str, now: datetime) -> tuple[str, int]:
    """The session token to set as the cookie for a valid handoff code, and its max age in
    seconds (until the session's absolute expiry); Unauthorised for anything else."""
    claims = decode_token(code, kind=TokenKind.handoff, now=now)
    sid = claims.get("sid")
    row = session.get(UserSession, sid) if isinstance(sid, str) else None
    if row is None or row.ended_at is not None or str(row.user_id) != claims["sub"]:
        raise Unauthorised()
    expires = as_utc(row.expires_at)
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    if now >= expires or now - as_utc(row.last_seen_at) > idle:
        raise Unauthorised()
    left = expires - now
    token = issue_token(kind=TokenKind.session, subject=str(row.user_id), now=now,
                        lifetime=left, jti=row.session_id)
    return token, max(1, int(left.total_seconds()))


def end_cookie_session(*, session: Session, token: str | None, now: datetime) -> None:
    """Log out the session a cookie names (if it is still live)."""
    if token:
        end_session(session=session, token=token, now=now)


def safe_for_page(code: str) -> bool:
    """Whether a code consists only of token characters (so it can be placed in a script)."""
    return bool(TOKEN_CHARACTERS.fullmatch(code))


def _same_origin(request: Request) -> bool:
    """A browser's fetch from the console's own page (Origin, when sent, is this host)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def cookie_routes(
    sessions: Callable[[], AbstractContextManager[Session]] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> list[BaseRoute]:
    """`POST /auth/session` (trade a handoff code for the cookie) and `POST /auth/logout`."""

    def store() -> AbstractContextManager[Session]:
        from console.platform.db import session_scope

        return sessions() if sessions is not None else session_scope()

    def moment() -> datetime:
        from loopdesk_core import clock as one_clock

        return clock() if clock is not None else one_clock.now()

    async def set_cookie(request: Request) -> Response:
        if not _same_origin(request):
            return _no_store(JSONResponse({"error": "forbidden"}, status_code=403))
        try:
            body = await request.json()
        except ValueError:
            body = None
        code = body.get("code") if isinstance(body, dict) else None
        if not isinstance(code, str):
            return _no_store(JSONResponse({"error": "unauthorised"}, status_code=401))
        try:
            token, max_age = await run_in_threadpool(_trade, store, code, moment())
        except Unauthorised:
            return _no_store(JSONResponse({"error": "unauthorised"}, status_code=401))
        response = Response(status_code=204)
        response.set_cookie(COOKIE_NAME, token, max_age=max_age, path="/", secure=True,
                            httponly=True, samesite="strict")
        return _no_store(response)

    async def log_out(request: Request) -> Response:
        if not _same_origin(request):
            return _no_store(JSONResponse({"error": "forbidden"}, status_code=403))
        token = request.cookies.get(COOKIE_NAME)
        await run_in_threadpool(_end, store, token, moment())
        response = Response(status_code=204)
        response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True,
                               samesite="strict")
        return _no_store(response)

    return [
        Route("/auth/session", set_cookie, methods=["POST"]),
        Route("/auth/logout", log_out, methods=["POST"]),
    ]


def _trade(store: Callable[[], AbstractContextManager[Session]], code: str,
           now: datetime) -> tuple[str, int]:
    with store() as session:
        return cookie_token(session=session, code=code, now=now)


def _end(store: Callable[[], AbstractContextManager[Session]], token: str | None,
         now: datetime) -> None:
    from console.platform.db import retrying

    with store() as session:
        retrying(session, lambda: end_cookie_session(session=session, token=token, now=now))
