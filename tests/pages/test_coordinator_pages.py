"""Coordinator pages: take a task, read its card, log `referred` with a lead; leads and loops."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from console.models.identity import Role
from console.models.work import Lead, Task, TaskStatus
from tests.pages.conftest import Login, World, frames_text, now_utc, texts

XSS = "<img src=x onerror=alert(1)>"


def _untouched_practice(world: World) -> str:
    """A practice whose lead and loop work no other test here sets aside (unlike the first)."""
    return sorted(world.practices)[2]


def _one_practice(world: World) -> tuple[str, list[str]]:
    slugs = sorted(world.practices)
    return slugs[0], [world.practices[s] for s in slugs[1:]]


def _asks_first(session: Session, slug: str) -> None:
    """Set the practice's lead and loop work aside, so the next task is a patient ask."""
    for task in session.exec(
        select(Task).where(Task.practice_slug == slug).where(Task.status == TaskStatus.open)
        .where(Task.kind != "ask")
    ).all():
        task.snoozed_until = now_utc() + timedelta(days=30)
        session.add(task)
    session.commit()


def _take(app: AppTest) -> AppTest:
    next_button = next(b for b in app.button if b.label == "Next task")
    return next_button.click().run()


def test_next_task_shows_the_context_card(login: Login, world: World) -> None:
    slug, others = _one_practice(world)
    app, _ = login(Role.coordinator, [slug], "pages/my_queue.py")
    assert not app.exception
    assert [t.value for t in app.title] == ["My queue"]
    _take(app)
    assert not app.exception
    shown = texts(app)
    assert world.practices[slug] in [s.value.split(" · ")[-1] for s in app.subheader]
    assert "Why first:" in shown and "SLA" in shown
    assert "Practice local time:" in shown and "Their local time" in shown
    # Zones by their city ("New York"), never the raw zone id ("America/New_York").
    assert not re.search(r"\b[A-Z][a-z]+/[A-Z][A-Za-z_]+", shown), shown
    assert "calling window closes at 21:00" in shown.lower()
    assert not any(name in shown for name in others)
    outcome = app.selectbox[0]
    assert outcome.label == "Outcome"
    assert {"Left a voicemail", "No answer"} <= set(outcome.options)
    # Nothing is pre-selected, and Log outcome waits for a choice.
    assert outcome.value is None
    assert next(b for b in app.button if b.label == "Log outcome").disabled


def _held_card(session: Session, user_id: int | None) -> Task:
    return session.exec(select(Task).where(Task.claimed_by == user_id)
                        .where(Task.status == TaskStatus.claimed)).one()


def _phone_of(task: Task) -> str | None:
    from warehouse.snapshot import reading_snapshot

    if task.subject_type == "lead":
        sql = "select lead_phone from mart_leads where practice_slug = ? and lead_id = ?"
    else:
        sql = "select phone from mart_patients where practice_slug = ? and patient_id = ?"
    with reading_snapshot() as conn:
        row = conn.execute(sql, [task.practice_slug, task.subject_id]).fetchone()
    return str(row[0]) if row and row[0] else None


def test_the_card_shows_the_number_to_dial_as_a_tel_link(
    login: Login, world: World, session: Session
) -> None:
    from console.platform.wording import phone_display

    slug, _ = _one_practice(world)
    _asks_first(session, slug)
    app, user = login(Role.coordinator, [slug], "pages/my_queue.py")
    _take(app)
    held = _held_card(session, user.user_id)
    phone = _phone_of(held)
    assert phone is not None and phone.startswith("+")
    [call] = [b for b in app.get("link_button") if b.proto.label.startswith("Call ")]
    assert call.proto.url == "tel:+" + "".join(ch for ch in phone if ch.isdigit())
    assert call.proto.label == f"Call {phone_display(phone)}"
    assert "consented: call" in texts(app)


def test_the_ask_script_never_states_a_price(
    login: Login, world: World, session: Session
) -> None:
    slug, _ = _one_practice(world)
    _asks_first(session, slug)
    app, _ = login(Role.coordinator, [slug], "pages/my_queue.py")
    _take(app)
    script = next(t.value for t in app.text if t.value.startswith("Hi "))
    assert "$" not in script and "results!" in script


def test_send_referral_link_queues_the_ask_through_the_outbox(
    login: Login, world: World, session: Session
) -> None:
    from console.models.identity import AuditEvent
    from console.models.outreach import Message

    slug, _ = _one_practice(world)
    _asks_first(session, slug)
    app, user = login(Role.coordinator, [slug], "pages/my_queue.py")
    # Take asks until one is for a patient who may be texted or emailed.
    for _ in range(12):
        _take(app)
        buttons = [b for b in app.button if b.label.endswith("the referral link")]
        if buttons:
            break
        next(b for b in app.button if b.label == "Release to queue").click().run()
    assert buttons, "no ask card offered a referral link"
    held = _held_card(session, user.user_id)
    buttons[0].click().run()
    assert not app.exception and "Referral link queued by" in texts(app)
    session.rollback()
    [message] = session.exec(select(Message).where(Message.task_id == held.task_id)
                             .where(Message.purpose == "referral_link")).all()
    assert message.status == "queued" and "/r/" in message.body
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "referral_link_sent")
                        .where(AuditEvent.object_ref == f"task:{held.task_id}")).first()
    # Pressing it again queues nothing more.
    next(b for b in app.button if b.label == buttons[0].label).click().run()
    assert "already queued" in texts(app)


def test_take_and_log_referred_in_four_interactions(
    login: Login, world: World, session: Session
) -> None:
    slug, _ = _one_practice(world)
    _asks_first(session, slug)
    app, _ = login(Role.coordinator, [slug], "pages/my_queue.py")
    _take(app)                                                     # 1: Next task
    assert not [k for k in _keys(app) if k.startswith("lead_")]  # only for `referred`
    app.selectbox[0].set_value("referred").run()                   # 2: choose the outcome
    app.number_input[0].set_value(7.0)                             # 3: minutes
    app.text_input(key=next(k for k in _keys(app) if k.startswith("lead_first"))).input("Robin")
    app.text_input(key=next(k for k in _keys(app) if k.startswith("lead_phone"))).input(
        "(312) 555-0142")
    next(b for b in app.button if b.label == "Log outcome").click().run()  # 4: Log
    assert not app.exception
    shown = texts(app)
    assert "Logged: " in shown and " referred a friend." in shown
    assert "Next action created: contact a referred lead." in shown
    lead_task = session.exec(
        select(Task).where(Task.kind == "contact_lead").where(Task.practice_slug == slug)
        .where(Task.status == TaskStatus.open).order_by(col(Task.task_id).desc())
    ).first()
    assert lead_task is not None and lead_task.lead_id is not None
    # The task is no longer held: the page offers the next one again.
    assert [b.label for b in app.button if b.label == "Next task"] == ["Next task"]


def test_log_and_take_next_logs_and_opens_the_next_card_in_one_click(
    login: Login, world: World, session: Session
) -> None:
    slug, _ = _one_practice(world)
    app, user = login(Role.coordinator, [slug], "pages/my_queue.py")
    _take(app)
    first = _held_card(session, user.user_id)
    session.rollback()
    both = next(b for b in app.button if b.label == "Log and take next")
    assert both.disabled  # like Log outcome, it waits for a chosen outcome
    app.selectbox[0].set_value("no_answer").run()
    next(b for b in app.button if b.label == "Log and take next").click().run()
    assert not app.exception
    shown = texts(app)
    assert "Logged: " in shown and "did not answer." in shown  # the confirmation is kept
    # ...and the next call's card is open: another task held, its form on screen.
    second = _held_card(session, user.user_id)
    assert second.task_id != first.task_id
    session.refresh(first)
    assert first.status != TaskStatus.claimed
    assert "Next task" not in [b.label for b in app.button]
    assert "Log outcome" in [b.label for b in app.button]
    assert app.selectbox[0].value is None  # nothing chosen on the new card
    next(b for b in app.button if b.label == "Release to queue").click().run()


def _keys(app: AppTest) -> list[str]:
    return [w.key for w in app.text_input if w.key]


def test_release_puts_the_task_back(login: Login, world: World, session: Session) -> None:
    slug, _ = _one_practice(world)
    app, user = login(Role.coordinator, [slug], "pages/my_queue.py")
    _take(app)
    held = session.exec(select(Task).where(Task.claimed_by == user.user_id)
                        .where(Task.status == TaskStatus.claimed)).first()
    assert held is not None
    next(b for b in app.button if b.label == "Release to queue").click().run()
    assert not app.exception
    assert "back in the queue" in texts(app)
    session.rollback()  # end the read transaction: see what the page committed
    assert session.get(Task, held.task_id).status == TaskStatus.open  # type: ignore[union-attr]


def test_snooze_sets_the_task_aside(login: Login, world: World, session: Session) -> None:
    slug, _ = _one_practice(world)
    app, _ = login(Role.coordinator, [slug], "pages/my_queue.py")
    _take(app)
    next(b for b in app.button if b.label == "Snooze").click().run()
    assert not app.exception
    assert "snoozed for 1 h" in texts(app)


def test_leads_page_lists_only_the_coordinators_practices(login: Login, world: World) -> None:
    slug, others = _one_practice(world)
    app, _ = login(Role.coordinator, [slug], "pages/leads.py")
    assert not app.exception
    assert [t.value for t in app.title] == ["Leads"]
    cells = frames_text(app)
    assert world.practices[slug] in cells
    assert not any(name in cells for name in others)


def test_loop_closures_page(login: Login, world: World) -> None:
    slug, others = _one_practice(world)
    app, _ = login(Role.coordinator, [slug], "pages/loop_closures.py")
    assert not app.exception
    assert [t.value for t in app.title] == ["Loop closures"]
    assert not any(name in frames_text(app) for name in others)


def test_a_patient_named_like_html_shows_as_text(
    login: Login, world: World, session: Session
) -> None:
    slug, _ = _one_practice(world)
    _asks_first(session, slug)
    app, user = login(Role.coordinator, [slug], "pages/my_queue.py")
    _take(app)
    app.selectbox[0].set_value("referred").run()
    app.text_input(key=next(k for k in _keys(app) if k.startswith("lead_first"))).input(XSS)
    app.text_input(key=next(k for k in _keys(app) if k.startswith("lead_email"))).input(
        "friend@example.test")
    next(b for b in app.button if b.label == "Log outcome").click().run()
    assert not app.exception
    lead_task = session.exec(
        select(Task).where(Task.kind == "contact_lead").where(Task.practice_slug == slug)
        .where(Task.status == TaskStatus.open).order_by(col(Task.task_id).desc())
    ).first()
    assert lead_task is not None
    # Hand this lead's task to the coordinator, as a claim would.
    lead_task.status = TaskStatus.claimed
    lead_task.claimed_by = user.user_id
    lead_task.claim_version += 1
    lead_task.claimed_at = now_utc() + timedelta(seconds=1)
    lead_task.lease_expires_at = now_utc() + timedelta(minutes=15)
    session.add(lead_task)
    session.commit()
    app.run()
    assert not app.exception
    assert any(m.value == XSS for m in app.metric)
    assert all(not md.proto.allow_html for md in app.markdown)
    leads = login(Role.coordinator, [slug], "pages/leads.py")[0]
    assert XSS in frames_text(leads)


def _hand_over_a_loop(session: Session, slug: str, user_id: int | None, patient_id: str) -> Task:
    """A close_loop task about `patient_id`'s friend, claimed by the user (as a claim would)."""
    from console.models.practice import PracticeSettings
    from tests.factories import add_task

    practice = session.get(PracticeSettings, slug)
    assert practice is not None
    task = add_task(session, practice, kind="close_loop", subject_id=patient_id,
                    lead_id=f"lead-of-{patient_id}", referrer_patient_id=patient_id,
                    now=now_utc())
    task.status, task.claimed_by = TaskStatus.claimed, user_id
    task.claim_version += 1
    task.claimed_at = now_utc() + timedelta(seconds=2)
    task.lease_expires_at = now_utc() + timedelta(minutes=15)
    session.add(task)
    session.commit()
    return task


def _email_referrers(slug: str) -> list[str]:
    from warehouse.snapshot import reading_snapshot

    with reading_snapshot() as conn:
        rows = conn.execute(
            "select patient_id from mart_patients where practice_slug = ? and consent_email "
            "and email is not null and not do_not_contact order by patient_id limit 2", [slug]
        ).fetchall()
    return [str(row[0]) for row in rows]


def _close_the_loop(app: AppTest) -> AppTest:
    app.selectbox[0].set_value("loop_closed").run()
    return app


def test_loop_closed_offers_and_queues_the_thank_you(
    login: Login, world: World, session: Session
) -> None:
    from console.models.outreach import Message

    slug, _ = _one_practice(world)
    referrer = _email_referrers(slug)[0]
    app, user = login(Role.coordinator, [slug], "pages/my_queue.py")
    _hand_over_a_loop(session, slug, user.user_id, referrer)
    _close_the_loop(app.run())
    assert not app.exception
    [offer] = [c for c in app.checkbox if c.label == "Send thank-you message"]
    assert offer.value is True and "by email" in texts(app)
    next(b for b in app.button if b.label == "Log outcome").click().run()
    assert not app.exception
    assert "heard how their referral went" in texts(app)
    assert "Thank-you message queued." in texts(app)
    session.rollback()
    [message] = session.exec(select(Message).where(Message.subject_id == referrer)
                             .where(Message.purpose == "loop_close")).all()
    assert (message.channel, message.status) == ("email", "queued")


def test_no_thank_you_is_offered_without_email_or_text_consent(
    login: Login, world: World, session: Session
) -> None:
    from console.contact.consent import revoke_consent
    from console.models.outreach import Message

    slug, _ = _one_practice(world)
    referrer = _email_referrers(slug)[1]
    revoke_consent(session=session, practice_slug=slug, subject_type="patient",
                   subject_id=referrer, source="test", now=now_utc() - timedelta(days=1),
                   channels=("email", "text"))
    session.commit()
    app, user = login(Role.coordinator, [slug], "pages/my_queue.py")
    _hand_over_a_loop(session, slug, user.user_id, referrer)
    _close_the_loop(app.run())
    [offer] = [c for c in app.checkbox if c.label == "Send thank-you message"]
    assert offer.value is False and "no email or text consent" in texts(app)
    next(b for b in app.button if b.label == "Log outcome").click().run()
    assert not app.exception and "heard how their referral went" in texts(app)
    session.rollback()
    assert session.exec(select(Message).where(Message.subject_id == referrer)).all() == []


def test_leads_list_to_call_first_with_phone_and_referrer_names(
    login: Login, world: World
) -> None:
    slug = _untouched_practice(world)
    app, _ = login(Role.coordinator, [slug], "pages/leads.py")
    table = app.dataframe[0].value
    assert list(table.columns)[:5] == ["lead", "phone", "practice", "referred by", "status"]
    to_do = list(table["to do"])
    assert "call" in to_do and to_do == sorted(to_do, key=lambda v: v != "call")
    assert not table["referred by"].str.match(r"^P\d+$").any()  # names, never patient ids
    assert table["phone"].str.startswith("(").any()
    assert "_" not in "".join(table["status"])


def test_call_now_from_leads_opens_that_leads_card(
    login: Login, world: World, session: Session
) -> None:
    slug = _untouched_practice(world)
    app, user = login(Role.coordinator, [slug], "pages/leads.py")
    picker = app.selectbox(key="leads_pick")
    labels = list(picker.options)
    # The last open lead, not simply the one the queue would offer first.
    picker.select_index(len(labels) - 1).run()
    person = labels[-1].split(" · ")[0]
    next(b for b in app.button if b.label == "Call now").click().run()
    assert not app.exception
    held = session.exec(select(Task).where(Task.claimed_by == user.user_id)
                        .where(Task.status == TaskStatus.claimed)).one()
    assert held.kind == "contact_lead"
    lead = session.get(Lead, (held.practice_slug, held.lead_id))
    if lead is None:
        from warehouse.snapshot import reading_snapshot

        with reading_snapshot() as conn:
            row = conn.execute("select lead_first_name, lead_last_name from mart_leads "
                               "where practice_slug = ? and lead_id = ?",
                               [held.practice_slug, held.lead_id]).fetchone()
        assert row is not None and " ".join(filter(None, row)) == person
    else:
        assert " ".join(filter(None, [lead.first_name, lead.last_name])) == person
    assert any(m.label == "Calling" and m.value == person for m in app.metric)


def test_close_the_loop_from_the_list_claims_it(
    login: Login, world: World, session: Session
) -> None:
    slug = _untouched_practice(world)
    app, user = login(Role.coordinator, [slug], "pages/loop_closures.py")
    table = app.dataframe[0].value
    assert list(table.columns) == ["referrer", "friend", "practice", "to tell them", "status",
                                   "SLA"]
    statuses = list(table["status"])
    assert statuses == sorted(statuses, key=lambda v: v != "open")  # open first
    assert not table["friend"].str.match(r"^L\d+$").any()
    app.selectbox(key="loops_pick").select_index(0).run()
    next(b for b in app.button if b.label == "Close the loop").click().run()
    assert not app.exception
    held = session.exec(select(Task).where(Task.claimed_by == user.user_id)
                        .where(Task.status == TaskStatus.claimed)).one()
    assert held.kind == "close_loop"
