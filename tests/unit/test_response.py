"""The plan's steps over the database (sanqing/response/), on the sample town."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select

from sanqing import reporting, response
from sanqing.db import session_scope
from sanqing.errors import RoadNotFound, UnknownVillage
from sanqing.models import (
    Activation,
    Inspection,
    InspectionPhase,
    Relocation,
    RoadIncident,
    Shelter,
    TimelineEvent,
)
from sanqing.plans import Level, load_plan
from sanqing.registry import ensure_registry, find_town
from sanqing.scenarios import FindingInput, RoadReport
from sanqing.warning import WarningInfo

NOW = datetime(2026, 7, 12, 11, 0, tzinfo=UTC)
WARNING = WarningInfo(identifier="W-1", hazard="rainstorm", colour="orange")


def activate(level: Level = Level.II, warning: WarningInfo | None = WARNING) -> str:
    ensure_registry("jifeng")
    with session_scope() as s:
        return response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=load_plan(),
            level=level,
            warning=warning,
            drill=False,
            now=NOW,
        ).activation_id


def test_one_open_activation_per_town_whatever_starts_it(db_url: str) -> None:
    a = activate()
    assert a == activate() == "flood-621221106-W-1"
    # a manual start, or another warning, while it runs continues the same activation
    assert activate(warning=None) == a
    assert activate(warning=WarningInfo(identifier="W-9", colour="red")) == a
    with session_scope() as s:
        response.stand_down(session=s, activation_id=a, reason="解除")
    assert activate(warning=None) == "flood-621221106-manual-20260712"


def test_a_warning_for_some_villages_only_activates_those(db_url: str) -> None:
    ensure_registry("jifeng")
    w = WarningInfo(identifier="W-2", colour="red", village_codes=["621221106202"])
    with session_scope() as s:
        r = response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=load_plan(),
            level=Level.I,
            warning=w,
            drill=False,
        )
    assert r.village_codes == ["621221106202"]
    # a county-wide warning: villages of other towns are left to them
    w_county = WarningInfo(
        identifier="W-4", colour="red", village_codes=["621221106203", "621221101201"]
    )
    with session_scope() as s:
        r = response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=load_plan(),
            level=Level.I,
            warning=w_county,
            drill=False,
        )
    assert r.village_codes == ["621221106202", "621221106203"]  # joins the open activation
    w_elsewhere = WarningInfo(identifier="W-5", colour="red", village_codes=["621221101201"])
    with session_scope() as s, pytest.raises(UnknownVillage, match="covers none"):
        response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=load_plan(),
            level=Level.I,
            warning=w_elsewhere,
            drill=False,
        )
    w_bad = WarningInfo(identifier="W-3", colour="red", village_codes=["621221106299"])
    with session_scope() as s, pytest.raises(UnknownVillage, match="621221106299"):
        response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=load_plan(),
            level=Level.I,
            warning=w_bad,
            drill=False,
        )


def report_danger(act: str, plan: Any) -> str:
    """石门村's monitor reports danger at 石门洞滑坡 before the rain: the point's code."""
    with session_scope() as s:
        f = response.resolve_findings(
            s,
            town_code="621221106",
            findings=[FindingInput(hazard="石门洞滑坡", status="danger", note="裂缝")],
        )
        response.inspect_hazards(
            session=s,
            activation_id=act,
            village_code="621221106202",
            phase=InspectionPhase.BEFORE,
            plan=plan,
            findings=f,
            drill=False,
        )
    return next(iter(f))


def test_a_recorded_danger_is_never_downgraded_by_a_later_report(db_url: str) -> None:
    act = activate()
    plan = load_plan()
    code = report_danger(act, plan)
    with session_scope() as s:
        later = {code: FindingInput(hazard=code, status="ok")}
        result = response.inspect_hazards(
            session=s,
            activation_id=act,
            village_code="621221106202",
            phase=InspectionPhase.BEFORE,
            plan=plan,
            findings=later,
            drill=False,
        )
        assert result.dangerous == 1
        assert s.get(Inspection, f"{act}:{code}:before").status == "danger"
        # the other points stay with their monitors outside a drill
        assert result.inspected == 1 and result.pending >= 1
        events = s.exec(select(TimelineEvent).where(TimelineEvent.action == "发现险情")).all()
        assert len(events) == 1


def test_shelter_overflow_is_a_shortfall_and_capacity_is_never_exceeded(db_url: str) -> None:
    act = activate(level=Level.I)
    base = load_plan()
    # every shelter within reach, so only capacity and order decide
    plan = base.model_copy(
        update={"defaults": base.defaults.model_copy(update={"max_shelter_distance_km": 100.0})}
    )
    with session_scope() as s:
        for sh in s.exec(select(Shelter)):
            sh.capacity = 20  # a town short of places
            s.add(sh)
    with session_scope() as s:
        for v in response.villages_of(s, town_code="621221106"):
            response.plan_relocations(session=s, activation_id=act, village_code=v.code, plan=plan)
        result = response.assign_town_shelters(session=s, activation_id=act, plan=plan)
    with session_scope() as s:
        rels = s.exec(select(Relocation)).all()
        shelters = {sh.code: sh.capacity for sh in s.exec(select(Shelter))}
        used: dict[str, int] = {}
        for r in rels:
            if r.shelter_code:
                used[r.shelter_code] = used.get(r.shelter_code, 0) + r.people
        assert all(used[c] <= shelters[c] for c in used)
        short = [r for r in rels if r.shortfall]
        assert result.shortfall_people == sum(r.people for r in short) > 0
        assert all(r.shelter_code is None for r in short)
        # most urgent first: once a danger-zone household of p people found no room,
        # no alert-zone household of p or more people can have been placed after it
        for waiting in (r for r in short if r.zone == "danger"):
            assert not [
                r
                for r in rels
                if r.shelter_code and r.zone == "alert" and r.people >= waiting.people
            ]
    # a second pass changes nothing
    with session_scope() as s:
        again = response.assign_town_shelters(session=s, activation_id=act, plan=plan)
    assert again == result


def test_roads_wait_for_a_free_machine_and_get_it_when_a_road_reopens(db_url: str) -> None:
    act = activate()
    with session_scope() as s:
        names = [seg for seg in s.exec(select(RoadIncident.road_code))]  # none yet
        assert names == []
        from sanqing.models import Machine, RoadSegment

        segments = s.exec(select(RoadSegment).order_by(RoadSegment.code)).all()
        machines = s.exec(select(Machine)).all()
    blocked = [RoadReport(road=seg.code, cause="落石") for seg in segments[: len(machines) + 1]]
    with session_scope() as s:
        r1 = response.clear_roads(session=s, activation_id=act, reports=blocked, plan=load_plan())
    assert (r1.blocked, r1.dispatched, r1.waiting_for_machine, r1.reopened) == (
        len(machines) + 1,
        len(machines),
        1,
        0,
    )
    with session_scope() as s:
        first = s.exec(
            select(RoadIncident)
            .where(RoadIncident.status == "dispatched")
            .order_by(RoadIncident.id)
        ).first()
        freed = first.machine_code
        r2 = response.clear_roads(
            plan=load_plan(),
            session=s,
            activation_id=act,
            reports=[RoadReport(road=first.road_code, cleared=True)],
        )
    assert (r2.reopened, r2.dispatched, r2.waiting_for_machine) == (1, len(machines), 0)
    with session_scope() as s:
        incidents = s.exec(select(RoadIncident)).all()
        busy = [i.machine_code for i in incidents if i.status == "dispatched"]
        assert len(busy) == len(set(busy))  # one incident per machine
        assert freed in busy  # the freed machine went to the road that waited


def test_an_unknown_road_is_refused_by_position_and_name(db_url: str) -> None:
    act = activate()
    with (
        session_scope() as s,
        pytest.raises(RoadNotFound, match=r"roads\[0\].*不存在的路"),
    ):
        response.clear_roads(
            session=s, activation_id=act, reports=[RoadReport(road="不存在的路")], plan=load_plan()
        )


def test_two_responses_in_one_town_never_overfill_a_shelter(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two warnings at once: the second allocator waits for the first and sees its places."""
    import contextlib
    import threading

    from sanqing.rules import shelters as shelter_rules

    base = load_plan()
    plan = base.model_copy(
        update={"defaults": base.defaults.model_copy(update={"max_shelter_distance_km": 100.0})}
    )
    acts = [activate(Level.I, WarningInfo(identifier=f"W-{i}", colour="red")) for i in (1, 2)]
    with session_scope() as s:
        for sh in s.exec(select(Shelter)):
            sh.capacity = 30
            s.add(sh)
    with session_scope() as s:
        for act in acts:
            for v in response.villages_of(s, town_code="621221106"):
                response.plan_relocations(
                    session=s, activation_id=act, village_code=v.code, plan=plan
                )
    # Both allocators meet here after reading the occupancy, unless the town lock keeps
    # the second one out until the first has committed (then the barrier times out).
    barrier = threading.Barrier(2, timeout=2)
    real = shelter_rules.assign_shelters

    def meet_then_assign(**kw):  # type: ignore[no-untyped-def]
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return real(**kw)

    monkeypatch.setattr(response.shelters, "assign_shelters", meet_then_assign)
    errors: list[BaseException] = []

    def allocate(act: str) -> None:
        try:
            with session_scope() as s:
                response.assign_town_shelters(session=s, activation_id=act, plan=plan)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=allocate, args=(a,)) for a in acts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    with session_scope() as s:
        used: dict[str, int] = {}
        for r in s.exec(select(Relocation)):
            if r.shelter_code:
                used[r.shelter_code] = used.get(r.shelter_code, 0) + r.people
        assert used and all(n <= 30 for n in used.values()), used


def _plan_and_place(act: str) -> response.ShelterResult:
    plan = load_plan()
    with session_scope() as s:
        for v in response.villages_of(s, town_code="621221106"):
            response.plan_relocations(session=s, activation_id=act, village_code=v.code, plan=plan)
        return response.assign_town_shelters(session=s, activation_id=act, plan=plan)


def test_a_drill_never_takes_places_from_a_real_response(db_url: str) -> None:
    ensure_registry("jifeng")
    with session_scope() as s:
        drill = response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=load_plan(),
            level=Level.I,
            warning=WarningInfo(identifier="DRILL-1", colour="red"),
            drill=True,
        ).activation_id
    in_drill = _plan_and_place(drill)
    real = _plan_and_place(activate(Level.I, WarningInfo(identifier="REAL-1", colour="red")))
    assert real.placed_households == in_drill.placed_households > 0
    assert real.shortfall_people == in_drill.shortfall_people


def test_a_stood_down_response_frees_its_places(db_url: str) -> None:
    first = activate(Level.I, WarningInfo(identifier="W-A", colour="red"))
    alone = _plan_and_place(first)
    with session_scope() as s:
        response.stand_down(session=s, activation_id=first, reason="解除")
    second = activate(Level.I, WarningInfo(identifier="W-B", colour="red"))
    assert second != first  # the first one ended: a new warning opens a new activation
    assert _plan_and_place(second).placed_households == alone.placed_households


def test_field_notes_lose_phone_and_id_numbers_before_they_are_stored(db_url: str) -> None:
    from sanqing.privacy import contains_personal_data
    from sanqing.reporting import summarize

    act = activate()
    note = "户主王某电话13912345678，身份证621221199001011234，后山出现裂缝"
    with session_scope() as s:
        f = response.resolve_findings(
            s,
            town_code="621221106",
            findings=[FindingInput(hazard="石门洞滑坡", status="danger", note=note)],
        )
        response.inspect_hazards(
            session=s,
            activation_id=act,
            village_code="621221106202",
            phase=InspectionPhase.BEFORE,
            plan=load_plan(),
            findings=f,
            drill=False,
        )
    with session_scope() as s:
        stored = s.exec(select(Inspection.finding).where(Inspection.status == "danger")).one()
        assert "后山出现裂缝" in stored and not contains_personal_data(stored)
        events = " ".join(e.detail for e in s.exec(select(TimelineEvent)))
        assert not contains_personal_data(events)
        assert not contains_personal_data(str(summarize(session=s, activation_id=act)))


def test_a_village_without_cadres_or_hazards_still_counts_and_is_covered(db_url: str) -> None:
    from sqlalchemy import delete

    from sanqing.models import Cadre, Grid, HazardPoint, HazardThreat, Household
    from sanqing.reporting import summarize

    ensure_registry("jifeng")
    v_no_cadre, v_no_hazard = "621221106205", "621221106203"
    with session_scope() as s:
        s.execute(delete(Grid).where(Grid.village_code == v_no_cadre))
        s.execute(delete(Cadre).where(Cadre.village_code == v_no_cadre))
        for h in s.exec(select(Household).where(Household.village_code == v_no_cadre)):
            h.responsible_cadre_code = None
            h.grid_code = None
            s.add(h)
        hz = [
            h.code
            for h in s.exec(select(HazardPoint).where(HazardPoint.village_code == v_no_hazard))
        ]
        s.execute(delete(HazardThreat).where(HazardThreat.hazard_code.in_(hz)))
        s.execute(delete(HazardPoint).where(HazardPoint.code.in_(hz)))
    act = activate(Level.I)
    _plan_and_place(act)
    with session_scope() as s:
        orphans = s.exec(select(Relocation).where(Relocation.village_code == v_no_cadre)).all()
        assert orphans and all(r.cadre_code for r in orphans)  # the town's leaders took them
        leaders = {c.code for c in s.exec(select(Cadre).where(Cadre.role == "town_leader"))}
        assert {r.cadre_code for r in orphans} <= leaders
        figures = summarize(session=s, activation_id=act)
    assert figures["villages"] == 6
    assert v_no_hazard in {v["code"] for v in figures["village_figures"]}


def test_a_big_towns_villages_fan_out_in_at_most_six_groups() -> None:
    few = [f"V{i:02d}" for i in range(6)]
    assert response.village_groups(few) == [[v] for v in few]  # one task per village
    many = [f"V{i:02d}" for i in range(15)]
    groups = response.village_groups(many)
    assert len(groups) <= 6 and [v for g in groups for v in g] == many  # all, in order, once
    assert response.village_groups([]) == []


def test_the_basis_of_a_start_is_kept_and_said(db_url: str) -> None:
    """启动依据: a warning, the county's notice or the town's own assessment."""
    from sanqing.models import StartBasis

    by_warning = activate()
    with session_scope() as s:
        response.stand_down(session=s, activation_id=by_warning, reason="解除")
    ensure_registry("jifeng")
    with session_scope() as s:
        ordered = response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=load_plan(),
            level=Level.III,
            warning=None,
            drill=False,
            basis=StartBasis.COUNTY_NOTICE,
            now=NOW,
        ).activation_id
    with session_scope() as s:
        response.stand_down(session=s, activation_id=ordered, reason="解除")
    own = activate(warning=None)
    with session_scope() as s:
        assert [s.get(Activation, a).basis for a in (by_warning, ordered, own)] == [  # type: ignore[union-attr]
            "warning",
            "county_notice",
            "town_assessment",
        ]
        started = s.exec(
            select(TimelineEvent.detail).where(
                TimelineEvent.activation_id == ordered, TimelineEvent.action == "启动应急响应"
            )
        ).one()
        assert "依据县防指通知启动" in started
        assert reporting.summarize(session=s, activation_id=own)["basis"] == "town_assessment"


def test_who_moves_in_the_town_is_who_moves_in_each_village(db_url: str) -> None:
    """``movers`` of all the villages in one read (the approval's question) finds each
    village's movers, with the same reasons, findings included, in the town's order."""
    from sanqing.response.threats import movers

    act_id = activate(Level.III)
    plan = load_plan()
    report_danger(act_id, plan)
    with session_scope() as s:
        act = s.get(Activation, act_id)
        assert act is not None and len(act.village_codes) > 1
        each = [
            c for v in act.village_codes for c in movers(s, act=act, plan=plan, village_codes=[v])
        ]
        town = movers(s, act=act, plan=plan, village_codes=act.village_codes)

    def said(c: Any) -> tuple[Any, ...]:
        return (c.household.code, c.zone, c.hazard_codes, c.reasons, c.vulnerabilities, c.max_risk)

    assert each and sorted(map(said, each)) == sorted(map(said, town))
    assert any("danger_finding" in c.reasons for c in town)
    assert [c.sort_key for c in town] == sorted(c.sort_key for c in town)
