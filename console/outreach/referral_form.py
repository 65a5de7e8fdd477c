"""The public referral form at `/r/{code}`: plain, escaped HTML that works on a phone without JS.

It shows only the practice's name (nothing about the referrer), asks for the friend's name,
a phone or an email and consent, and turns a submission into a link lead with an urgent
`contact_lead` task. Requests are rate-limited per client (an HMAC of its address is stored,
never the address itself).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from urllib.parse import parse_qsl

from sqlalchemy import delete, func
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from console.messaging.referral_links import InvalidCode, verify_code
from console.models.outreach import ReferralFormHit, ReferralSubmission
from console.models.practice import PracticeSettings
from console.models.work import Lead
from console.platform.db import begin_write
from console.platform.edge import client_key
from console.platform.errors import UserError
from console.work.leads import LeadInput, create_lead, validate_lead
from console.work.refresh import close_tasks
from loopdesk_core import clock

RATE_WINDOW = timedelta(minutes=10)
RATE_LIMIT = 20
MAX_BODY_BYTES = 8_192
MAX_FIELD = 100
MAX_FORM_FIELDS = 20
_HEADERS = {
    "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'",
}  # fmt: skip
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:30rem;margin:1rem auto;padding:0 1rem}"
    "label{display:block;margin-top:1rem;font-size:1.1rem}"
    "input[type=text],input[type=tel],input[type=email]{width:100%;font-size:1.2rem;"
    "padding:.6rem;box-sizing:border-box}"
    "button{margin-top:1.5rem;width:100%;font-size:1.2rem;padding:.8rem}"
    ".consent{display:flex;gap:.5rem;align-items:flex-start}.error{color:#a00}"
)

PatientMatcher = Callable[[str, str | None, str | None], str | None]


class InvalidSubmission(UserError):
    """The form was filled in incompletely; the message is shown to the friend."""


@dataclass(frozen=True)
class FormServices:
    """What the form depends on; injectable so tests use their own store and clock."""

    sessions: Callable[[], AbstractContextManager[Session]]
    now: Callable[[], datetime]
    patient_matcher: PatientMatcher | None = None


def plain_page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A small public page: escaped title, the given (already escaped) body, strict headers."""
    html = (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _not_found() -> HTMLResponse:
    """One page for every bad code: no hint whether it was unknown, edited or expired."""
    return plain_page("Link not valid", "<h1>This link is not valid</h1>"
                 "<p>Please ask the person who shared it for a new one.</p>", 404)


def _form(practice_name: str, code: str, error: str = "", values: dict[str, str] | None = None
          ) -> str:
    v = {k: escape(x) for k, x in (values or {}).items()}
    problem = f"<p class=\"error\">{escape(error)}</p>" if error else ""
    return (
        f"<h1>{escape(practice_name)}</h1>"
        "<p>A friend thinks you might like to hear from us. Leave your details and we will "
        "get in touch.</p>"
        f"{problem}<form method=\"post\" action=\"/r/{escape(code)}\">"
        "<label>First name <input type=\"text\" name=\"first_name\" required maxlength=\"100\" "
        f"autocomplete=\"given-name\" value=\"{v.get('first_name', '')}\"></label>"
        "<label>Last name <input type=\"text\" name=\"last_name\" maxlength=\"100\" "
        f"autocomplete=\"family-name\" value=\"{v.get('last_name', '')}\"></label>"
        "<label>Phone <input type=\"tel\" name=\"phone\" maxlength=\"40\" autocomplete=\"tel\" "
        f"value=\"{v.get('phone', '')}\"></label>"
        "<label>or email <input type=\"email\" name=\"email\" maxlength=\"100\" "
        f"autocomplete=\"email\" value=\"{v.get('email', '')}\"></label>"
        "<label class=\"consent\"><input type=\"checkbox\" name=\"consent\" value=\"yes\" "
        f"required> I agree that {escape(practice_name)} may contact me about this.</label>"
        "<button type=\"submit\">Send</button></form>"
    )


def allow_request(*, session: Session, client: str, now: datetime) -> bool:
    """Count this request and say whether the client is within the limit; commits."""
    begin_write(session)
    session.execute(delete(ReferralFormHit).where(col(ReferralFormHit.at) < now - RATE_WINDOW))
    recent = session.exec(
        select(func.count()).select_from(ReferralFormHit)
        .where(ReferralFormHit.client_key == client)
        .where(col(ReferralFormHit.at) >= now - RATE_WINDOW)
    ).one()
    allowed = recent < RATE_LIMIT
    if allowed:
        session.add(ReferralFormHit(client_key=client, at=now))
    session.commit()
    return allowed


def submit_referral(
    *, session: Session, code: str, fields: dict[str, str], now: datetime,
    patient_matcher: PatientMatcher | None = None,
) -> Lead:
    """Turn a valid submission into a link lead with a `contact_lead` task; commits.

    Raises InvalidCode for a bad code, InvalidSubmission for missing details. A friend who is
    already a patient is flagged (`matched_patient_id`) and gets no contact task; one already
    referred as an open lead keeps the first referrer (create_lead records the duplicate).
    """
    row = verify_code(session=session, code=code, now=now)
    practice = session.get(PracticeSettings, row.practice_slug)
    if practice is None or not practice.active:
        raise InvalidCode()
    if fields.get("consent") != "yes":
        raise InvalidSubmission("please tick the box so we may contact you")
    try:
        clean = validate_lead(LeadInput(
            first_name=fields.get("first_name", "")[:MAX_FIELD],
            last_name=fields.get("last_name", "")[:MAX_FIELD],
            phone=fields.get("phone", "")[:MAX_FIELD] or None,
            email=fields.get("email", "")[:MAX_FIELD] or None,
        ))
    except UserError as error:
        raise InvalidSubmission(str(error).replace("the lead's", "the").replace(
            "a referred lead needs", "please give")) from error
    begin_write(session)
    lead, task = create_lead(session=session, practice=practice,
                             referrer_patient_id=row.patient_id, lead=clean, source="link",
                             now=now)
    matched = patient_matcher(practice.practice_slug, clean.phone, clean.email) \
        if patient_matcher is not None else None
    if matched is not None:
        lead.matched_patient_id = matched
        session.add(lead)
        if task is not None and task.task_id is not None:
            close_tasks(session=session, task_ids=[task.task_id], reason="existing_patient",
                        now=now)
    session.add(ReferralSubmission(code_id=row.code_id, practice_slug=practice.practice_slug,
                                   referrer_patient_id=row.patient_id, lead_id=lead.lead_id,
                                   duplicate=task is None or matched is not None,
                                   submitted_at=now))
    session.commit()
    return lead


def _practice_name(session: Session, code: str, now: datetime) -> str | None:
    try:
        row = verify_code(session=session, code=code, now=now)
    except InvalidCode:
        return None
    practice = session.get(PracticeSettings, row.practice_slug)
    return practice.name if practice is not None and practice.active else None


def referral_routes(services: FormServices | None = None) -> list[BaseRoute]:
    """The `/r/{code}` GET (form) and POST (submission) routes."""

    def resolved() -> FormServices:
        if services is not None:
            return services
        from console.platform.db import session_scope

        return FormServices(sessions=session_scope, now=clock.now,
                            patient_matcher=snapshot_patient_matcher())

    def handle(request: Request, code: str, body: bytes | None) -> HTMLResponse:
        deps = resolved()
        now = deps.now()
        with deps.sessions() as session:
            if not allow_request(session=session, client=client_key(request), now=now):
                return plain_page("Too many requests", "<h1>Too many requests</h1>"
                             "<p>Please try again in a few minutes.</p>", 429)
            name = _practice_name(session, code, now)
            if name is None:
                return _not_found()
            if body is None:
                return plain_page(name, _form(name, code))
            fields = form_fields(body)
            if fields is None:
                return plain_page(name, _form(name, code, "the form could not be read"), 400)
            try:
                submit_referral(session=session, code=code, fields=fields, now=now,
                                patient_matcher=deps.patient_matcher)
            except InvalidCode:
                return _not_found()
            except InvalidSubmission as error:
                return plain_page(name, _form(name, code, str(error), fields), 400)
        return plain_page(name, f"<h1>Thank you</h1><p>{escape(name)} will be in touch soon.</p>")

    async def endpoint(request: Request) -> HTMLResponse:
        code = request.path_params["code"]
        body: bytes | None = None
        if request.method == "POST":
            body = await read_limited(request, MAX_BODY_BYTES)
            if body is None:
                return plain_page("Too large", "<h1>Request too large</h1>", 413)
        return await run_in_threadpool(handle, request, code, body)

    return [Route("/r/{code}", endpoint, methods=["GET", "POST"])]


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed `limit` bytes.

    A declared Content-Length over the limit is refused before reading; a chunked body is
    read only until it passes the limit, so a huge post never sits in memory.
    """
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def form_fields(body: bytes) -> dict[str, str] | None:
    """The form's fields (first value of each), or None for a body that is not a small form.

    The form has six fields; a body with more than MAX_FORM_FIELDS is refused, not a crash.
    """
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        return None
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value.strip())
    return fields


def snapshot_patient_matcher() -> PatientMatcher:
    """Match a friend's phone/email to an existing patient in the published snapshot, if any."""

    def match(practice_slug: str, phone: str | None, email: str | None) -> str | None:
        from warehouse.snapshot import open_snapshot

        try:
            snapshot = open_snapshot()
        except Exception:  # no snapshot published yet: nothing to match against
            return None
        try:
            row = snapshot.execute(
                "select patient_id from mart_patients where practice_slug = ? "
                "and ((? is not null and phone = ?) or (? is not null and lower(email) = ?)) "
                "order by patient_id limit 1",
                [practice_slug, phone, phone, email, email],
            ).fetchone()
        finally:
            snapshot.close()
        return str(row[0]) if row else None

    return match
