"""三情叠加 over the database: who is under home monitoring, and the shelter step under it."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import select

from sanqing import response
from sanqing.db import session_scope, upsert
from sanqing.epidemic.overlay import monitored_households, running_epidemic
from sanqing.models import (
    Activation,
    ArrivalRisk,
    Cadre,
    CadreRole,
    MonitoringStatus,
    RegisteredPerson,
    Relocation,
    Screening,
    Shelter,
)
from sanqing.plans import Level, Plan, load_plan
from sanqing.registry import ensure_registry, find_town
from sanqing.warning import WarningInfo

NOW = datetime(2026, 7, 21, 11, 0, tzinfo=UTC)
TODAY = date(2026, 7, 21)
TOWN = "621221106"


def epidemic(act_id: str, *, drill: bool = False, status: str = "active") -> str:
    with session_scope() as s:
        upsert(
            s,
            Activation,
            [
                {
                    "id": act_id,
                    "town_code": TOWN,
                    "plan": "epidemic",
                    "level": "III",
                    "status": status,
                    "drill": drill,
                    "trigger": "manual",
                    "village_codes": [],
                    "activated_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )
    return act_id


def monitor(act_id: str, household: str, person: str, *, until: date = TODAY, **kw: Any) -> None:
    """Someone registered, staying with ``household``, screened by ``act_id``."""
    village = household.split("-")[0]
    with session_scope() as s:
        upsert(
            s,
            RegisteredPerson,
            [
                {
                    "id": person,
                    "town_code": TOWN,
                    "village_code": village,
                    "kind": "returnee",
                    "name": "测试",
                    "came_from": "420106",
                    "left_on": date(2026, 7, 10),
                    "arrived_on": date(2026, 7, 10),
                    "risk": ArrivalRisk.HIGH,
                    "source": "test",
                    "imported_at": NOW,
                    "household_code": household,
                }
            ],
        )
        upsert(
            s,
            Screening,
            [
                {
                    "id": f"{act_id}:{person}",
                    "activation_id": act_id,
                    "person_id": person,
                    "village_code": village,
                    "household_code": household,
                    "risk": ArrivalRisk.HIGH,
                    "status": kw.get("status", MonitoringStatus.MONITORING),
                    "monitoring_until": until,
                    "screened_at": NOW,
                }
            ],
        )


def flood(drill: bool = False) -> str:
    ensure_registry("jifeng")
    with session_scope() as s:
        return response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=load_plan(),
            level=Level.I,
            warning=WarningInfo(identifier="W-1", hazard="rainstorm", colour="red"),
            drill=drill,
            now=NOW,
        ).activation_id


def far_plan() -> Plan:
    base = load_plan()
    return base.model_copy(
        update={"defaults": base.defaults.model_copy(update={"max_shelter_distance_km": 100.0})}
    )


def order(act: str, plan: Plan) -> list[str]:
    """Every village decides who moves; the households that move, in order."""
    with session_scope() as s:
        for v in response.villages_of(s, town_code=TOWN):
            response.plan_relocations(session=s, activation_id=act, village_code=v.code, plan=plan)
        return [r.household_code for r in s.exec(select(Relocation).order_by(Relocation.priority))]


def place(act: str, plan: Plan) -> response.ShelterResult:
    with session_scope() as s:
        return response.assign_town_shelters(session=s, activation_id=act, plan=plan, now=NOW)


def rows() -> dict[str, tuple[Any, ...]]:
    with session_scope() as s:
        return {
            r.id: (r.shelter_code, r.shortfall, r.isolation, r.monitored)
            for r in s.exec(select(Relocation))
        }


def test_who_is_under_monitoring_on_a_day_as_a_flood_sees_it(db_url: str) -> None:
    ensure_registry("jifeng")
    epidemic("epi-real")
    epidemic("epi-drill", drill=True)
    epidemic("epi-ended", status="stood_down")
    monitor("epi-real", "621221106201-H0001", "p1")
    monitor("epi-drill", "621221106201-H0001", "p1")  # the same person twice: once
    monitor("epi-real", "621221106201-H0001", "p2", until=date(2026, 7, 20))  # over
    monitor("epi-real", "621221106201-H0002", "p3", status=MonitoringStatus.ENDED)
    monitor("epi-drill", "621221106201-H0003", "p4")
    monitor("epi-ended", "621221106201-H0004", "p5")
    with session_scope() as s:
        real = monitored_households(s, town_code=TOWN, drill=False, on=TODAY)
        drill = monitored_households(s, town_code=TOWN, drill=True, on=TODAY)
        assert real == {"621221106201-H0001": 1}
        assert drill == {"621221106201-H0001": 1, "621221106201-H0003": 1}
        assert monitored_households(s, town_code=TOWN, drill=True, on=date(2026, 7, 22)) == {}
        # a real flood never runs under a drill's epidemic; a drill flood under the real one
        real_epi = running_epidemic(s, town_code=TOWN, drill=False)
        drill_epi = running_epidemic(s, town_code=TOWN, drill=True)
        assert real_epi is not None and real_epi.id == "epi-real"
        assert drill_epi is not None and drill_epi.id == "epi-real"


def test_under_an_epidemic_the_monitored_go_apart_and_the_others_spaced(db_url: str) -> None:
    plan = far_plan()
    act = flood()
    moving = order(act, plan)
    epidemic("epi")
    watched = moving[:3] + moving[-2:]  # urgent ones and some of the last
    for i, hh in enumerate(watched):
        monitor("epi", hh, f"p{i}")
    with session_scope() as s:  # few isolation places: some monitored are short
        for sh in s.exec(select(Shelter)):
            sh.isolation_places = 6 if sh.code.endswith("-S1") else 0
            s.add(sh)
    result = place(act, plan)
    with session_scope() as s:
        rels = list(s.exec(select(Relocation)))
        shelters = {sh.code: sh for sh in s.exec(select(Shelter))}
    for r in rels:
        assert r.isolation == (r.household_code in watched), r.household_code
        assert r.monitored == (1 if r.household_code in watched else 0)
    for code, sh in shelters.items():
        apart = sum(r.people for r in rels if r.shelter_code == code and r.isolation)
        general = sum(r.people for r in rels if r.shelter_code == code and not r.isolation)
        assert apart <= sh.isolation_places and general <= sh.capacity // 2, code
    apart_short = [r for r in rels if r.isolation and r.shortfall]
    assert result.isolation_shortfall_people == sum(r.people for r in apart_short)
    assert result.isolation_people == sum(r.people for r in rels if r.isolation and r.shelter_code)
    assert result.isolation_people > 0 and result.shortfall_people > 0
    before = rows()
    assert place(act, plan) == result and rows() == before  # a re-run changes nothing


def test_a_household_placed_among_others_moves_apart_once_its_monitoring_is_known(
    db_url: str,
) -> None:
    plan = far_plan()
    act = flood()
    moving = order(act, plan)
    place(act, plan)  # no epidemic yet: everyone in general places
    placed = next(hh for hh in moving if rows()[f"{act}:{hh}"][0])
    epidemic("epi")
    monitor("epi", placed, "p1")
    place(act, plan)
    shelter, shortfall, isolation, monitored = rows()[f"{act}:{placed}"]
    assert isolation and monitored == 1 and (shelter is not None or shortfall)
    with session_scope() as s:
        sh = s.get(Shelter, shelter) if shelter else None
        assert sh is None or sh.isolation_places > 0


def test_two_runs_at_once_place_everyone_once(db_url: str) -> None:
    plan = far_plan()
    act = flood(drill=True)
    moving = order(act, plan)
    epidemic("epi", drill=True)
    for i, hh in enumerate(moving[:4]):
        monitor("epi", hh, f"p{i}")
    errors: list[BaseException] = []
    results: list[response.ShelterResult] = []

    def run() -> None:
        try:
            results.append(place(act, plan))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 2
    assert results[0] == results[1]
    before = rows()
    place(act, plan)
    assert rows() == before
    with session_scope() as s:
        held: dict[tuple[str, bool], int] = {}
        for r in s.exec(select(Relocation)):
            if r.shelter_code:
                key = (r.shelter_code, r.isolation)
                held[key] = held.get(key, 0) + r.people
        shelters = {sh.code: sh for sh in s.exec(select(Shelter))}
    for (code, apart), people in held.items():
        limit = shelters[code].isolation_places if apart else shelters[code].capacity // 2
        assert people <= limit, (code, apart)


def test_a_cadre_on_duty_at_an_epidemic_point_gets_no_door_visits_then(db_url: str) -> None:
    from datetime import timedelta

    from sanqing.models import DutyShift, TimelineEvent

    plan = far_plan()
    act = flood()
    epidemic("epi")
    with session_scope() as s:  # every cadre of 鸡心村 but its first secretary is at a point
        cadres = list(s.exec(select(Cadre).where(Cadre.village_code == "621221106201")))
        busy = [c for c in cadres if c.role != CadreRole.FIRST_SECRETARY]
        for c in busy:
            s.add(
                DutyShift(
                    id=f"epi:{c.code}",
                    activation_id="epi",
                    cadre_code=c.code,
                    post="检测点",
                    point_code="P1",
                    starts_at=NOW - timedelta(hours=2),
                    ends_at=NOW + timedelta(hours=6),
                )
            )
    with session_scope() as s:
        response.plan_relocations(
            session=s, activation_id=act, village_code="621221106201", plan=plan, now=NOW
        )
    with session_scope() as s:
        rels = list(s.exec(select(Relocation)))
        assert rels and not {r.cadre_code for r in rels} & {c.code for c in busy}
        assert any(r.original_cadre_code in {c.code for c in busy} for r in rels)
        # nobody else free in 石门村: its households stay with them, and the timeline says so
        for c in s.exec(select(Cadre).where(Cadre.village_code == "621221106202")):
            s.add(
                DutyShift(
                    id=f"epi:{c.code}",
                    activation_id="epi",
                    cadre_code=c.code,
                    post="卡点",
                    point_code="P2",
                    starts_at=NOW,
                    ends_at=NOW + timedelta(hours=8),
                )
            )
    with session_scope() as s:
        response.plan_relocations(
            session=s, activation_id=act, village_code="621221106202", plan=plan, now=NOW
        )
    with session_scope() as s:
        kept = [e for e in s.exec(select(TimelineEvent)) if e.action == "执勤人员兼任入户"]
        assert len(kept) == 1 and "621221106202" in kept[0].id


def test_the_epidemic_daily_report_carries_the_flood_beside_it(db_url: str) -> None:
    from datetime import timedelta

    from sanqing.epidemic.report import write_daily_report
    from sanqing.epidemic.resources import load_town_resources

    plan = far_plan()
    act = flood()
    moving = order(act, plan)
    epidemic("epi")
    epidemic("epi-drill", drill=True)
    monitor("epi", moving[0], "p0")
    place(act, plan)
    res = load_town_resources("jifeng")
    with session_scope() as s:
        real = write_daily_report(
            s, activation_id="epi", seq=1, day=TODAY, deadline=NOW + timedelta(hours=1),
            res=res, points=0, locale="zh-CN", now=NOW,
        )  # fmt: skip
    assert "汛情叠加" in real.text and "防汛Ⅰ级应急响应同时进行" in real.text
    assert "无混住" in real.text and real.payload["figures"]  # counts only
    # a drill flood is not the real epidemic report's business
    with session_scope() as s:
        response.stand_down(session=s, activation_id=act, reason="test")
    drill_flood = flood(drill=True)
    order(drill_flood, plan)
    with session_scope() as s:
        again = write_daily_report(
            s, activation_id="epi", seq=2, day=TODAY, deadline=NOW + timedelta(hours=1),
            res=res, points=0, locale="en", now=NOW,
        )  # fmt: skip
        drilled = write_daily_report(
            s, activation_id="epi-drill", seq=1, day=TODAY, deadline=NOW + timedelta(hours=1),
            res=res, points=0, locale="en", now=NOW,
        )  # fmt: skip
    assert "Flood at the same time" not in again.text
    assert "Flood at the same time" in drilled.text
