"""Managers' pages of the simulation area: what the queue learned, and the staffing what-if."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from console.models.identity import Role
from console.views import simulation
from console.views.simulation import StaffingJob, staffing_answer
from tests.pages.conftest import APP, Login, World, now_utc, texts, token_for


def test_manager_sees_the_learned_rates_with_their_evidence(login: Login, world: World) -> None:
    app, _ = login(Role.manager, [], "pages/learned.py")
    assert not app.exception
    assert [t.value for t in app.title] == ["What the queue has learned"]
    frame = app.dataframe[0].value
    assert {"what", "for", "band", "learned", "prior", "evidence (calls)"} <= set(frame.columns)
    assert "answers the call (by local hour)" in set(frame["what"])
    assert "17:00" in set(frame["band"])
    # This world has no logged calls yet: every cell shows zero evidence and its prior, and
    # there is no answer-by-hour curve to draw.
    assert set(frame["evidence (calls)"]) == {0}
    assert (frame["learned"] == frame["prior"]).all()
    # Rates read as percentages, kinds as coordinators name them ("Close the loop").
    assert frame["learned"].str.fullmatch(r"\d{1,3}%").all()
    assert "Close the loop" in set(frame["for"]) and "close loop" not in set(frame["for"])
    assert not app.get("vega_lite_chart")


def _figures(lead_sla: float, delivered: float) -> dict[str, object]:
    return {
        "sla_compliance": {"ask": 1.0, "contact_lead": lead_sla, "close_loop": 0.9},
        "lead_contact_within_sla": lead_sla, "booked_revenue": 20000.0 * delivered / 16,
        "hours": [{"practice": "Lakeshore Dental Implants", "contracted_hours": 16.0,
                   "delivered_hours": delivered, "deviation": delivered / 16.0 - 1.0}],
    }


def _inputs(app: AppTest) -> tuple[list[int], int]:
    """The team sizes and days the page will simulate (From, Up to, Working days)."""
    fewest, most, days = (int(box.value) for box in app.number_input)
    return list(range(fewest, most + 1)), days


def test_manager_runs_and_reads_the_staffing_what_if(
    login: Login, world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One active coordinator (other page tests add coordinators to the shared world).
    monkeypatch.setattr(simulation, "team_size", lambda session: 1)
    app, _ = login(Role.manager, [], "pages/staffing.py")
    assert not app.exception
    assert [t.value for t in app.title] == ["Staffing what-if"]
    assert "press Run" in texts(app)
    # A finished what-if for the page's inputs (the simulation itself is tested elsewhere).
    sizes, days = _inputs(app)
    results = {size: _figures(0.8 if size == 1 else 1.0, 9.0 if size == 1 else 15.5)
               for size in sizes}
    job = StaffingJob(key=(), sizes=sizes, started_at=datetime(2026, 11, 26), fraction=1.0,
                      results=results, done=True)
    monkeypatch.setattr(simulation, "_JOBS", {("agency", tuple(sizes), days): job})
    app.run()
    assert not app.exception
    shown = texts(app)
    assert sizes == [1, 2]  # from today's team less three (at least 1) to one more
    assert ("2 coordinators meet every client's lead SLA and contracted hours (you have 1); "
            in shown)
    assert "1 misses first contact of leads (80% within SLA)" in shown
    assert "Lakeshore Dental Implants's hours by 12 h/week" in shown  # 7 h over 3 days
    assert len(app.get("vega_lite_chart")) == 3


def test_a_running_what_if_says_which_team_size_and_about_how_long_is_left(
    login: Login, world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, _ = login(Role.manager, [], "pages/staffing.py")
    sizes, days = _inputs(app)
    # Before a run: how long it will take, and that the page need not be watched.
    assert f"{len(sizes)} simulations: about " in texts(app)
    # A quarter done a minute after it started (the page's clock is the pinned one): the
    # first team size, and about three minutes left; the SLA legend reads as task names.
    job = StaffingJob(key=(), sizes=sizes, started_at=now_utc() - timedelta(minutes=1),
                      fraction=0.25, message="1 coordinator: day 2 of 5")
    monkeypatch.setattr(simulation, "_JOBS", {("agency", tuple(sizes), days): job})
    app.run()
    assert not app.exception
    [bar] = app.get("progress")
    assert bar.proto.text == (f"Simulation 1 of {len(sizes)} — 1 coordinator: "
                              "day 2 of 5 · about 3 min left")
    # Just started: no pace yet, so no guess.
    job.fraction, job.started_at = 0.0, now_utc()
    app.run()
    assert app.get("progress")[0].proto.text.endswith("day 2 of 5")


def test_a_team_of_ten_can_be_modelled_and_one_more(
    login: Login, world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The what-if stopped at 8 coordinators while the demo agency has 10 active: it now
    goes up to max(8, team + 3), and by default simulates around today's team."""
    monkeypatch.setattr(simulation, "team_size", lambda session: 10)
    app, _ = login(Role.manager, [], "pages/staffing.py")
    assert not app.exception
    fewest, most, _days = app.number_input
    assert fewest.max == most.max == 13
    sizes, _ = _inputs(app)
    assert sizes == [7, 8, 9, 10, 11]  # today's team, one more, and a few fewer
    shown = texts(app)
    assert "You have 10 active coordinators: the what-if can simulate teams of 1 to 13." in shown
    assert "7 to 11 coordinators, 5 simulations: about " in shown
    # A small team still gets the old range.
    assert simulation.max_team(3) == 8 and simulation.max_team(0) == 8


def test_a_what_if_up_to_the_team_and_three_more_starts(
    world: World, session: object, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.pages.conftest import make_user

    started: list[list[int]] = []
    monkeypatch.setattr(simulation, "team_size", lambda session: 10)
    monkeypatch.setattr(simulation, "_JOBS", {})
    monkeypatch.setattr(simulation, "_run", lambda job, world: started.append(job.sizes))
    manager = make_user(session, Role.manager, [])  # type: ignore[arg-type]
    from console.identity.access import current_user as acting_user

    acting = acting_user(session=session, user_id=manager.user_id or 0)  # type: ignore[arg-type]
    assert acting is not None
    simulation.start_staffing(session=session, user=acting, sizes=[12, 13], days=3,  # type: ignore[arg-type]
                              now=now_utc())
    assert started == [[12, 13]]
    from console.platform.errors import UserError

    with pytest.raises(UserError, match="between 1 and 13"):
        simulation.start_staffing(session=session, user=acting, sizes=[14], days=3,  # type: ignore[arg-type]
                                  now=now_utc())


def test_progress_weighs_each_team_size_by_its_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """A larger team makes more calls, so its simulation takes longer: after the first of
    [1, 10] the what-if is about a quarter done, not half (a pace from the small first size
    would promise too early an end)."""
    from console.simulation import runner

    seen: list[float] = []
    job = StaffingJob(key=(), sizes=[1, 10], started_at=now_utc())

    def fake_run(world: object, policy: str, progress: object) -> dict[str, object]:
        seen.append(job.fraction)
        progress(0.5, "priority: day 1 of 2")  # type: ignore[operator]
        seen.append(job.fraction)
        return {"size": len(seen)}

    class FakeWorld:
        def with_coordinators(self, size: int) -> FakeWorld:
            return self

    monkeypatch.setattr(runner, "run_one", fake_run)
    simulation._run(job, FakeWorld())  # type: ignore[arg-type]
    assert job.done and job.error is None and job.fraction == 1.0
    small, large = simulation.team_weight(1), simulation.team_weight(10)
    assert seen == pytest.approx([0.0, 0.5 * small / (small + large), small / (small + large),
                                  (small + 0.5 * large) / (small + large)])
    assert seen[2] < 0.3
    # The estimate before a run grows with the team sizes too.
    assert (simulation.expected_cpu_seconds([10], days=5, practices=12)
            > 2 * simulation.expected_cpu_seconds([1], days=5, practices=12))


def test_the_finished_what_if_names_tasks_as_coordinators_read_them(
    login: Login, world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    app, _ = login(Role.manager, [], "pages/staffing.py")
    sizes, days = _inputs(app)
    job = StaffingJob(key=(), sizes=sizes, started_at=now_utc(), fraction=1.0, done=True,
                      results={size: _figures(1.0, 16.0) for size in sizes})
    monkeypatch.setattr(simulation, "_JOBS", {("agency", tuple(sizes), days): job})
    app.run()
    import pyarrow as pa

    sla_chart = app.get("vega_lite_chart")[0].proto
    assert json.loads(sla_chart.spec)["title"] == "SLA compliance"
    rows = pa.ipc.open_stream(sla_chart.data.data).read_all().to_pylist()
    kinds = {row["kind"] for row in rows}
    assert kinds == {"Ask for a referral", "Contact a referred lead", "Close the loop"}
    # Hours per client: clients as the rows of a grid (names in full), not a dozen coloured
    # lines whose legend was cut ("Camelback Aesthetic Sur…") in a third of the page.
    hours = json.loads(app.get("vega_lite_chart")[2].proto.spec)
    assert hours["title"].startswith("Hours delivered per week")
    encodings = [layer["encoding"] for layer in hours["layer"]]
    assert all(e["y"]["field"] == "client" and e["y"]["axis"]["labelLimit"] == 0
               for e in encodings)
    assert all(e.get("color", {}).get("field") != "client" for e in encodings)


@pytest.mark.parametrize("role", [Role.coordinator, Role.client_owner])
def test_coordinators_and_client_owners_cannot_reach_it(
    login: Login, world: World, role: Role,
) -> None:
    app, _ = login(role, sorted(world.practices)[:1])
    for page in ("pages/staffing.py", "pages/learned.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            app.switch_page(page)


@pytest.mark.parametrize("role", [Role.coordinator, Role.client_owner])
def test_the_page_file_itself_stops_for_other_roles(
    login: Login, world: World, session: object, role: Role,
) -> None:
    """Run directly (not through the router), the page shows nothing to other roles."""
    from tests.pages.conftest import make_user

    user = make_user(session, role, sorted(world.practices)[:1])  # type: ignore[arg-type]
    for page in ("staffing.py", "learned.py"):
        app = AppTest.from_file(str(APP).replace("streamlit_app.py", f"pages/{page}"),
                                default_timeout=60)
        app.session_state["session_token"] = token_for(session, user)  # type: ignore[arg-type]
        app.run()
        assert not app.exception
        assert not app.title and not app.button


def test_the_answer_sentence() -> None:
    ok = _figures(1.0, 16.0)
    short = _figures(0.97, 8.0)
    assert staffing_answer({1: short, 2: ok, 3: ok}, days=7, warm_up=2) == (
        "2 coordinators meet every client's lead SLA and contracted hours; "
        "1 misses Lakeshore Dental Implants's hours by 8 h/week.")
    assert staffing_answer({1: short}, days=7, warm_up=2).startswith("Even 1 coordinator misses ")
    assert staffing_answer({}, days=7, warm_up=2) == "No results yet."
    # Today's team beside the answer; a range not starting at 1 says its first size is the
    # fewest simulated, not the fewest that would do.
    assert staffing_answer({7: ok, 8: ok}, days=7, warm_up=2, current=10) == (
        "7 coordinators (the fewest simulated) meet every client's lead SLA and contracted "
        "hours (you have 10).")
    assert staffing_answer({7: short, 8: short}, days=7, warm_up=2, current=10) == (
        "Even 8 coordinators miss Lakeshore Dental Implants's hours by 8 h/week (you have 10).")


def test_the_answer_names_leads_no_team_size_reaches() -> None:
    """Leads due before the team's next calling hour are not a reason to hire: the answer
    sizes the team on what it can reach and says earlier hours would reach the rest."""
    ok = _figures(1.0, 16.0)
    late = _figures(0.85, 16.0) | {"lead_sla_out_of_reach": 10,
                                   "lead_contact_within_sla_in_reach": 1.0}
    short_late = _figures(0.85, 8.0) | {"lead_sla_out_of_reach": 10,
                                        "lead_contact_within_sla_in_reach": 0.99}
    assert staffing_answer({1: short_late, 2: late, 3: late}, days=7, warm_up=2) == (
        "2 coordinators meet every client's contracted hours and the lead SLA wherever their "
        "calling hours allow; 1 misses Lakeshore Dental Implants's hours by 8 h/week; 10 leads "
        "fell due before the team's next calling hour, which earlier hours would reach and "
        "more people would not.")
    # Missing leads the team could have reached is still a miss.
    slow = _figures(0.85, 16.0) | {"lead_sla_out_of_reach": 2,
                                   "lead_contact_within_sla_in_reach": 0.90}
    assert staffing_answer({1: slow, 2: ok}, days=7, warm_up=2) == (
        "2 coordinators meet every client's lead SLA and contracted hours; "
        "1 misses first contact of leads (85% within SLA).")
