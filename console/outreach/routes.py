"""Public outreach routes: one-click unsubscribe `/u/{token}` and the signed SMS webhook.

`GET /u/{token}` shows a plain confirmation page with one button (no JavaScript); `POST`
(the button, or a mailbox provider's RFC 8058 one-click request) revokes email consent.
`POST /hooks/sms` takes a provider's form-encoded inbound text (`From`, `To`, `Body`, a message
id), checks its HMAC signature and timestamp, and hands it to the reply handler once per id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import parse_qs

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from console.identity.tokens import Unauthorised
from console.outreach.referral_form import plain_page, read_limited
from console.outreach.replies import PatientLookup, record_inbound, webhook_is_authentic
from console.outreach.unsubscribe import unsubscribe, unsubscribe_target
from console.platform.errors import UserError
from loopdesk_core import clock
from loopdesk_core.settings import get_settings

LOGGER = logging.getLogger(__name__)
MAX_BODY_BYTES = 16_384
TIMESTAMP_HEADER = "x-loopdesk-timestamp"
SIGNATURE_HEADER = "x-loopdesk-signature"
# Where the common providers put their message id (Twilio, Vonage, Plivo, generic).
MESSAGE_ID_FIELDS = ("MessageSid", "SmsSid", "MessageUUID", "messageId", "message_id", "id")
_JSON_HEADERS = {"Cache-Control": "no-store"}

LookupFactory = Callable[[], AbstractContextManager[PatientLookup | None]]


@contextmanager
def snapshot_lookup() -> Iterator[PatientLookup | None]:
    """Patients by phone or email in the published snapshot, or None before the first build."""
    from console.outreach.replies import snapshot_patient_lookup
    from warehouse.snapshot import SnapshotMissing, open_snapshot

    try:
        snapshot = open_snapshot()
    except SnapshotMissing:
        yield None
        return
    try:
        yield snapshot_patient_lookup(snapshot)
    finally:
        snapshot.close()


@dataclass(frozen=True)
class OutreachServices:
    """What the routes depend on; injectable so tests use their own store, clock and secret."""

    sessions: Callable[[], AbstractContextManager[Session]]
    now: Callable[[], datetime]
    patient_lookup: LookupFactory
    sms_secret: Callable[[], bytes | None]
    wall_now: Callable[[], datetime | None] = lambda: None


def _configured_secret() -> bytes | None:
    secret = get_settings().sms_webhook_secret
    return secret.get_secret_value().encode() if secret is not None else None


def default_outreach_services() -> OutreachServices:
    """The real wiring: the configured store, the one clock, the snapshot, the settings' secret."""
    from console.platform.db import session_scope

    return OutreachServices(sessions=session_scope, now=clock.now,
                            patient_lookup=snapshot_lookup, sms_secret=_configured_secret,
                            wall_now=clock.wall_now)


def _invalid_link() -> HTMLResponse:
    """One page for every bad token: no hint whether it was forged, edited or expired."""
    return plain_page("Link not valid", "<h1>This link is not valid</h1>"
                      "<p>To stop emails, reply to one with the word “unsubscribe”.</p>", 404)


def _confirm_page(practice_name: str, token: str, already: bool) -> HTMLResponse:
    name = escape(practice_name)
    if already:
        return _done_page(practice_name)
    return plain_page(f"Unsubscribe from {practice_name}", (
        f"<h1>Unsubscribe from {name}</h1>"
        f"<p>You will receive no more emails from {name} through us.</p>"
        f"<form method=\"post\" action=\"/u/{escape(token)}\">"
        "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
        "<button type=\"submit\">Unsubscribe</button></form>"
    ))


def _done_page(practice_name: str) -> HTMLResponse:
    name = escape(practice_name)
    return plain_page("Unsubscribed", f"<h1>You are unsubscribed</h1>"
                      f"<p>{name} will send you no more emails through us.</p>")


def _unauthorised() -> JSONResponse:
    return JSONResponse({"error": "unauthorised"}, status_code=401, headers=_JSON_HEADERS)


def outreach_routes(services: OutreachServices | None = None) -> list[BaseRoute]:
    """`GET/POST /u/{token}` and `POST /hooks/sms`, bound to `services` (default: the real ones)."""

    def resolved() -> OutreachServices:
        return services if services is not None else default_outreach_services()

    def handle_unsubscribe(token: str, confirm: bool) -> HTMLResponse:
        deps = resolved()
        try:
            with deps.sessions() as session:
                if confirm:
                    target = unsubscribe(session=session, token=token, now=deps.now())
                    return _done_page(target.practice_name)
                target = unsubscribe_target(session=session, token=token, now=deps.now())
        except Unauthorised:
            return _invalid_link()
        return _confirm_page(target.practice_name, token, target.already_unsubscribed)

    async def unsubscribe_endpoint(request: Request) -> Response:
        token = request.path_params["token"]
        if request.method == "POST" and await read_limited(request, MAX_BODY_BYTES) is None:
            return plain_page("Too large", "<h1>Request too large</h1>", 413)
        return await run_in_threadpool(handle_unsubscribe, token, request.method == "POST")

    def handle_sms(body: bytes, timestamp: str | None, signature: str | None) -> JSONResponse:
        deps = resolved()
        now = deps.now()
        if not webhook_is_authentic(secret=deps.sms_secret(), timestamp=timestamp,
                                    signature=signature, body=body, now=now,
                                    wall_now=deps.wall_now()):
            LOGGER.warning("sms webhook refused: unsigned, wrongly signed or stale")
            return _unauthorised()
        try:
            parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True,
                              max_num_fields=50)
        except ValueError:  # more fields than any provider sends
            return JSONResponse({"error": "too many fields"}, status_code=400,
                                headers=_JSON_HEADERS)
        fields = {key: values[0] for key, values in parsed.items() if values}
        message_id = next((fields[name] for name in MESSAGE_ID_FIELDS if fields.get(name)), None)
        if not fields.get("From") or message_id is None:
            return JSONResponse({"error": "From and a message id are required"},
                                status_code=400, headers=_JSON_HEADERS)
        try:
            with deps.patient_lookup() as lookup, deps.sessions() as session:
                result = record_inbound(session=session, channel="sms", address=fields["From"],
                                        text=fields.get("Body", ""), now=now,
                                        patient_lookup=lookup, provider_message_id=message_id)
        except UserError as error:
            return JSONResponse({"error": str(error).replace("--from", "From")},
                                status_code=400, headers=_JSON_HEADERS)
        payload = {"status": "duplicate" if result.duplicate else "recorded",
                   "opt_out": result.opt_out, "people_matched": result.people_matched,
                   "tasks_cancelled": result.tasks_cancelled,
                   "cadence_stopped": result.replied_message_id is not None}
        return JSONResponse(payload, headers=_JSON_HEADERS)

    async def sms_endpoint(request: Request) -> Response:
        body = await read_limited(request, MAX_BODY_BYTES)
        if body is None:
            return JSONResponse({"error": "request too large"}, status_code=413,
                                headers=_JSON_HEADERS)
        return await run_in_threadpool(handle_sms, body, request.headers.get(TIMESTAMP_HEADER),
                                       request.headers.get(SIGNATURE_HEADER))

    return [
        Route("/u/{token}", unsubscribe_endpoint, methods=["GET", "POST"]),
        Route("/hooks/sms", sms_endpoint, methods=["POST"]),
    ]
