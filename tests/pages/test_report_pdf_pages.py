"""The monthly PDF on the Report page (client owner) and the Clients page (manager): the return
line, the prepared PDF (audited as an export) offered for download, fee and recipients."""

from __future__ import annotations

import io

from pypdf import PdfReader
from sqlmodel import Session, select

from console.models.identity import AuditEvent, Role
from console.models.practice import PracticeSettings
from tests.pages.conftest import Login, World, frames_text, texts


def _exports(session: Session, actor: str) -> list[str | None]:
    session.rollback()
    return [e.object_ref for e in session.exec(
        select(AuditEvent).where(AuditEvent.actor == actor)
        .where(AuditEvent.action == "export")).all()]


def _pdf_text(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in
                             PdfReader(io.BytesIO(pdf)).pages).split())


def test_owner_downloads_this_months_pdf_from_the_report_page(
    login: Login, world: World, session: Session
) -> None:
    slug = sorted(world.practices)[0]
    app, user = login(Role.client_owner, [slug], "pages/report.py")
    assert not app.exception
    assert any("Referred revenue in October 2026" in str(i.value) for i in app.info)
    assert _exports(session, f"user:{user.user_id}") == []  # looking is not exporting
    app.button(key="report-prepare").click().run()
    assert not app.exception
    _, filename, pdf = app.session_state["report-pdf"]
    assert filename == f"loopdesk-report-{slug}-2026-10.pdf"
    assert pdf[:4] == b"%PDF"
    assert world.practices[slug] in _pdf_text(pdf)
    [button] = [b for b in app.get("download_button")
                if "Download this month's PDF" in str(b.proto.label)]
    assert button.proto.ignore_rerun and not button.proto.disabled
    assert _exports(session, f"user:{user.user_id}") == [f"report_pdf:{slug}:2026-10"]


def test_manager_sets_the_fee_previews_and_downloads_on_clients(
    login: Login, world: World, session: Session
) -> None:
    slug = sorted(world.practices)[1]
    app, user = login(Role.manager, [], "pages/clients.py")
    assert not app.exception
    assert "last report sent" in frames_text(app) or "never" in frames_text(app)
    app.selectbox[0].select(slug).run()
    session.rollback()
    original = session.get(PracticeSettings, slug)
    assert original is not None and original.monthly_fee  # practices.csv carries a fee
    generated_fee = original.monthly_fee
    assert any(f"on the ${generated_fee:,.0f} monthly fee" in str(i.value) for i in app.info)

    def save(fee: str, recipients: str) -> None:
        next(t for t in app.text_input if t.label.startswith("Monthly fee")).input(fee)
        next(t for t in app.text_input
             if t.label.startswith("Monthly report")).input(recipients)
        next(b for b in app.button if b.label == "Save").click().run()
        assert not app.exception
        assert f"Saved {world.practices[slug]}." in texts(app)

    save("", "")  # an emptied fee is unknown: the return is "—", never 0
    session.rollback()
    cleared = session.get(PracticeSettings, slug)
    assert cleared is not None and cleared.monthly_fee is None, cleared.monthly_fee
    app.run()
    assert any("no monthly fee on file" in str(i.value) for i in app.info)
    save("$2,500", "office@practice.test")
    session.rollback()
    stored = session.get(PracticeSettings, slug)
    assert stored is not None
    assert stored.monthly_fee == 2500.0 and stored.report_recipients == "office@practice.test"
    app.run()
    assert any("on the $2,500 monthly fee" in str(i.value) for i in app.info)
    assert "office@practice.test" in texts(app)
    app.button(key="clients-prepare").click().run()
    assert not app.exception
    _, _, pdf = app.session_state["clients-pdf"]
    assert "on the $2,500 monthly fee" in _pdf_text(pdf)
    assert app.get("download_button")
    assert _exports(session, f"user:{user.user_id}") == [f"report_pdf:{slug}:2026-10"]
    stored.monthly_fee, stored.report_recipients = generated_fee, None
    session.add(stored)
    session.commit()


def test_a_bad_recipient_is_refused_with_a_message(login: Login, world: World) -> None:
    slug = sorted(world.practices)[2]
    app, _ = login(Role.manager, [], "pages/clients.py")
    app.selectbox[0].select(slug).run()
    next(t for t in app.text_input if t.label.startswith("Monthly report")).input("nobody")
    next(b for b in app.button if b.label == "Save").click().run()
    assert not app.exception
    assert any("not an email address" in str(e.value) for e in app.error)


def test_a_fee_that_is_not_an_amount_is_refused(login: Login, world: World,
                                                session: Session) -> None:
    slug = sorted(world.practices)[2]
    app, _ = login(Role.manager, [], "pages/clients.py")
    app.selectbox[0].select(slug).run()
    session.rollback()
    before = session.get(PracticeSettings, slug)
    assert before is not None
    fee = before.monthly_fee
    next(t for t in app.text_input if t.label.startswith("Monthly fee")).input("lots")
    next(b for b in app.button if b.label == "Save").click().run()
    assert not app.exception
    assert any("monthly fee must be an amount" in str(e.value) for e in app.error)
    session.rollback()
    after = session.get(PracticeSettings, slug)
    assert after is not None and after.monthly_fee == fee


class _Inbox:
    """A channel that keeps what it is handed (the SMTP path has its own tests)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str]]] = []

    def send(self, *, recipient: str, subject: str, body: str, parts: object = None,
             attachments: tuple = ()) -> None:
        self.sent.append((recipient, [a.filename for a in attachments]))


def test_clients_shows_when_the_last_report_went_out(login: Login, world: World,
                                                      session: Session) -> None:
    from zoneinfo import ZoneInfo

    from console.messaging.channels import Channels
    from console.reporting.delivery import send_monthly_reports
    from console.reporting.monthly import Month
    from tests.pages.conftest import now_utc

    slug = sorted(world.practices)[0]
    practice = session.get(PracticeSettings, slug)
    assert practice is not None
    practice.report_recipients = "office@first-practice.test"
    session.add(practice)
    session.commit()
    inbox = _Inbox()
    try:
        result = send_monthly_reports(session=session, channels=Channels(email=inbox, sms=inbox),
                                      now=now_utc(), month=Month(2026, 9))
    finally:
        practice = session.get(PracticeSettings, slug)
        assert practice is not None
        practice.report_recipients = None
        session.add(practice)
        session.commit()
    # Earlier page tests may have made client owners: they get the report too.
    sent = {files[0]: recipient for recipient, files in inbox.sent}
    assert "office@first-practice.test" in sent[f"loopdesk-report-{slug}-2026-09.pdf"]
    assert result["outbox"]["sent"] == len(inbox.sent) == result["queued"]
    local = now_utc().astimezone(ZoneInfo(practice.timezone))
    expected = f"{local:%b} {local.day}, {local:%Y %H:%M %Z}"
    app, _ = login(Role.manager, [], "pages/clients.py")
    assert not app.exception
    [clients_table] = [df.value for df in app.dataframe if "last report sent" in df.value]
    row = clients_table[clients_table["client"] == world.practices[slug]].iloc[0]
    assert row["last report sent"] == expected
    skipped = {world.practices[r["practice_slug"]] for r in result["practices"]
               if r["status"] == "skipped"}
    never = clients_table[clients_table["client"].isin(skipped)]
    assert set(never["last report sent"]) <= {"never"}
