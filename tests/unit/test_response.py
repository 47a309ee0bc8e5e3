"""The plan's steps over the database (sanqing/response.py), on the sample town."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from sanqing import response
from sanqing.db import session_scope
from sanqing.errors import UnknownVillage
from sanqing.models import (
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


def test_same_warning_same_activation_manual_trigger_one_per_day(db_url: str) -> None:
    a = activate()
    assert a == activate() == "flood-621221106-W-1"
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
    assert r.village_codes == ["621221106203"]
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


def test_a_recorded_danger_is_never_downgraded_by_a_later_report(db_url: str) -> None:
    act = activate()
    plan = load_plan()
    with session_scope() as s:
        f = response.resolve_findings(
            s,
            town_code="621221106",
            findings=[FindingInput(hazard="石门洞滑坡", status="danger", note="裂缝")],
        )
        code = next(iter(f))
        response.inspect_hazards(
            session=s,
            activation_id=act,
            village_code="621221106202",
            phase=InspectionPhase.BEFORE,
            plan=plan,
            findings=f,
            drill=False,
        )
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
        pytest.raises(response.RoadNotFound, match=r"roads\[0\].*不存在的路"),
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

    monkeypatch.setattr(response, "assign_shelters", meet_then_assign)
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
