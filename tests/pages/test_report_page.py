"""The client owner's report: their practice only, benchmarks, forecast, audited CSV export."""

from __future__ import annotations

from sqlmodel import Session, select

from console.models.identity import AuditEvent, Role
from tests.pages.conftest import Login, World, texts


def test_report_shows_only_the_owners_practice(login: Login, world: World) -> None:
    slug = sorted(world.practices)[1]
    app, _ = login(Role.client_owner, [slug], "pages/report.py")
    assert not app.exception
    shown = texts(app)
    assert [h.value for h in app.header] == [world.practices[slug]]
    others = [name for other, name in world.practices.items() if other != slug]
    assert not any(name in shown for name in others)
    labels = {m.label for m in app.metric}
    assert {"Referral rate", "Referred revenue", "Loop closure", "Hours per week"} <= labels
    for metric in app.metric:
        assert metric.value == "—" or metric.value[0].isdigit() or metric.value[0] == "$"
    assert "83% of satisfied patients" in shown
    assert "What compounding means for the next two years" in shown
    assert "Assumptions:" in shown or "Not enough measured data" in shown
    assert app.get("vega_lite_chart")
    assert app.get("download_button")


def test_the_report_names_stages_and_tasks_for_reading(login: Login, world: World) -> None:
    """The funnel's bars read "results_visible", "lead_contacted"; the SLA table "contact
    lead": an owner reads "results visible", "friend contacted", "Contact a referred lead"."""
    import json

    import pyarrow as pa

    slug = sorted(world.practices)[0]
    app, _ = login(Role.client_owner, [slug], "pages/report.py")
    assert not app.exception
    funnel = next(chart.proto for chart in app.get("vega_lite_chart")
                  if "treated" in str(chart.proto.spec) or chart.proto.data.data)
    spec = json.loads(funnel.spec)
    rows = (pa.ipc.open_stream(funnel.data.data).read_all().to_pylist() if funnel.data.data
            else spec.get("layer", [{}])[0].get("data", {}).get("values", []))
    stages = [row["stage"] for row in rows]
    assert "results visible" in stages and "friend contacted" in stages
    assert not any("_" in stage for stage in stages)
    sla = next(frame.value for frame in app.dataframe if "compliance" in frame.value)
    assert "Contact a referred lead" in set(sla["task"])
    assert not sla["task"].str.contains("_").any()


def test_viewing_the_report_is_audited(login: Login, world: World, session: Session) -> None:
    slug = sorted(world.practices)[2]
    _, user = login(Role.client_owner, [slug], "pages/report.py")
    session.rollback()
    events = session.exec(
        select(AuditEvent).where(AuditEvent.actor == f"user:{user.user_id}")
        .where(AuditEvent.action == "view_report")
    ).all()
    assert events
    assert {e.practice_slug for e in events} == {slug}
    # The CSV is built only on a click, so a page view is not recorded as an export.
    exports = session.exec(
        select(AuditEvent).where(AuditEvent.actor == f"user:{user.user_id}")
        .where(AuditEvent.action == "export")
    ).all()
    assert exports == []


def test_an_owner_without_a_practice_sees_a_note(login: Login) -> None:
    app, _ = login(Role.client_owner, [], "pages/report.py")
    assert not app.exception
    assert "No practice is assigned" in texts(app)
