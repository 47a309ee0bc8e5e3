"""Who moves, in what order, and which cadre takes them (sanqing/rules/relocation.py)."""

from __future__ import annotations

from sanqing.models import Cadre, HazardPoint, HazardThreat, Household
from sanqing.plans import RelocationScope
from sanqing.rules.relocation import (
    REASON_DANGER_FINDING,
    REASON_DANGEROUS_HOUSE,
    REASON_HAZARD_RISK,
    REASON_VULNERABLE,
    assign_cadres,
    select_households,
)

V = "621221106202"


def hh(
    code: str, *, members: int = 3, rating: str = "B", cadre: str | None = "C1", **flags: bool
) -> Household:
    return Household(
        code=code,
        village_code=V,
        grid_code="G1",
        group_name="一组",
        head_name="某",
        members=members,
        address="",
        lat=33.64,
        lon=105.61,
        house_type="砖混",
        safety_rating=rating,
        responsible_cadre_code=cadre,
        **flags,
    )


def hazard(code: str, risk: str) -> HazardPoint:
    return HazardPoint(
        code=code,
        village_code=V,
        name=code,
        kind="landslide",
        risk=risk,
        lat=33.64,
        lon=105.61,
        description="",
        warning_signal="鸣锣",
        evacuation_route="",
    )


def threat(h: str, household: str, zone: str) -> HazardThreat:
    return HazardThreat(hazard_code=h, household_code=household, zone=zone)


LEVEL_III = RelocationScope(
    vulnerable_in_hazard_zones=True, dangerous_house_ratings=["D"], zones=["danger", "alert"]
)
LEVEL_II = RelocationScope(
    vulnerable_in_hazard_zones=True,
    dangerous_house_ratings=["C", "D"],
    hazard_risk_at_least="high",
    zones=["danger", "alert"],
)
LEVEL_IV = RelocationScope(on_danger_finding=True)
HAZARDS = {"Z1": hazard("Z1", "very_high"), "Z2": hazard("Z2", "medium"), "Z3": hazard("Z3", "low")}


def codes(cands: list) -> list[str]:
    return [c.household.code for c in cands]


def test_level_iv_moves_nobody_without_findings() -> None:
    households = [hh("H1", elderly_alone=True), hh("H2", rating="D")]
    threats = [threat("Z1", "H1", "danger"), threat("Z1", "H2", "danger")]
    assert (
        select_households(households=households, threats=threats, hazards=HAZARDS, scope=LEVEL_IV)
        == []
    )


def test_danger_finding_moves_everyone_the_hazard_threatens_even_at_level_iv() -> None:
    households = [hh("H1"), hh("H2"), hh("H3")]
    threats = [
        threat("Z2", "H1", "alert"),
        threat("Z2", "H2", "danger"),
        threat("Z3", "H3", "danger"),
    ]
    out = select_households(
        households=households,
        threats=threats,
        hazards=HAZARDS,
        scope=LEVEL_IV,
        findings={"Z2": "danger"},
    )
    assert codes(out) == ["H1", "H2"]
    assert all(c.zone == "danger" and REASON_DANGER_FINDING in c.reasons for c in out)


def test_level_iii_moves_vulnerable_in_zones_and_dangerous_houses_only() -> None:
    households = [
        hh("H1", left_behind_children=True),  # vulnerable, in a zone → moves
        hh("H2"),  # in a zone, not vulnerable, house fine → stays at III
        hh("H3", rating="D"),  # dangerous house, no hazard → moves
        hh("H4", hardship=True),  # vulnerable but in no zone → stays
        hh("H5", rating="C"),  # C is not dangerous at III
    ]
    threats = [threat("Z1", "H1", "alert"), threat("Z1", "H2", "danger")]
    out = select_households(
        households=households, threats=threats, hazards=HAZARDS, scope=LEVEL_III
    )
    assert sorted(codes(out)) == ["H1", "H3"]
    by = {c.household.code: c for c in out}
    assert by["H1"].reasons == (REASON_VULNERABLE,)
    assert by["H3"].reasons == (REASON_DANGEROUS_HOUSE,) and by["H3"].zone == "danger"


def test_level_ii_moves_everyone_threatened_by_high_risk_but_not_by_medium() -> None:
    households = [hh("H1"), hh("H2"), hh("H3", rating="C")]
    threats = [threat("Z1", "H1", "alert"), threat("Z2", "H2", "danger")]
    out = select_households(households=households, threats=threats, hazards=HAZARDS, scope=LEVEL_II)
    assert sorted(codes(out)) == ["H1", "H3"]
    assert REASON_HAZARD_RISK in next(c for c in out if c.household.code == "H1").reasons


def test_household_threatened_by_two_hazards_moves_once_with_both_and_the_worst_zone() -> None:
    households = [hh("H1", five_guarantee=True, members=1)]
    threats = [threat("Z2", "H1", "alert"), threat("Z1", "H1", "danger")]
    out = select_households(households=households, threats=threats, hazards=HAZARDS, scope=LEVEL_II)
    assert len(out) == 1
    (c,) = out
    assert c.hazard_codes == ("Z1", "Z2")
    assert c.zone == "danger"
    assert c.max_risk == "very_high"


def test_order_danger_zone_first_then_vulnerable_in_their_order_then_risk() -> None:
    households = [
        hh("A1"),  # alert, no vulnerability
        hh("A2", five_guarantee=True),  # alert, five-guarantee
        hh("D1"),  # danger, no vulnerability
        hh("D2", hardship=True),  # danger, hardship
        hh("D3", elderly_alone=True),  # danger, elderly alone
        hh("D4", five_guarantee=True, hardship=True),  # danger, five-guarantee (first flag counts)
        hh("D5", mobility_impaired=True),
        hh("D6", left_behind_children=True),
    ]
    threats = [
        threat("Z1", h.code, "alert" if h.code.startswith("A") else "danger") for h in households
    ]
    out = select_households(households=households, threats=threats, hazards=HAZARDS, scope=LEVEL_II)
    assert codes(out) == ["D4", "D3", "D5", "D6", "D2", "D1", "A2", "A1"]


def test_higher_risk_first_within_the_same_zone_and_vulnerability() -> None:
    households = [hh("H1"), hh("H2")]
    threats = [threat("Z3", "H1", "danger"), threat("Z1", "H2", "danger")]
    scope = RelocationScope(hazard_risk_at_least="low", zones=["danger"])
    assert codes(
        select_households(households=households, threats=threats, hazards=HAZARDS, scope=scope)
    ) == ["H2", "H1"]


def test_zones_outside_scope_do_not_count() -> None:
    scope = RelocationScope(hazard_risk_at_least="low", zones=["danger"])
    out = select_households(
        households=[hh("H1")], threats=[threat("Z1", "H1", "alert")], hazards=HAZARDS, scope=scope
    )
    assert out == []


def cadre(code: str, role: str = "village_cadre") -> Cadre:
    return Cadre(
        code=code,
        town_code="621221106",
        village_code=V,
        name=code,
        role=role,
        title="",
        phone="13900000000",
    )


def test_a_cadre_with_many_households_hands_the_rest_to_the_least_loaded() -> None:
    households = [hh(f"H{i:02d}", cadre="C1") for i in range(10)]
    threats = [threat("Z1", h.code, "danger") for h in households]
    ordered = select_households(
        households=households, threats=threats, hazards=HAZARDS, scope=LEVEL_II
    )
    cadres = [
        cadre("C1"),
        cadre("C2", "team_member"),
        cadre("C3", "grid_member"),
        cadre("FS", "first_secretary"),
    ]
    out = assign_cadres(ordered=ordered, cadres=cadres, grid_responsible={}, max_per_cadre=4)
    load: dict[str, int] = {}
    for a in out.values():
        load[a.cadre_code] = load.get(a.cadre_code, 0) + 1
    assert load["C1"] == 4  # the responsible cadre keeps the most urgent four
    assert sum(load.values()) == 10 and max(load.values()) == 4
    # the first four in priority order stay with C1; the others name C1 as the original
    first_four = [c.household.code for c in ordered[:4]]
    assert all(out[c].cadre_code == "C1" and out[c].original_cadre_code is None for c in first_four)
    moved = [a for a in out.values() if a.cadre_code != "C1"]
    assert all(a.original_cadre_code == "C1" for a in moved)


def test_every_household_gets_a_cadre_even_when_everyone_is_full() -> None:
    households = [hh(f"H{i}", cadre=None) for i in range(5)]
    threats = [threat("Z1", h.code, "danger") for h in households]
    ordered = select_households(
        households=households, threats=threats, hazards=HAZARDS, scope=LEVEL_II
    )
    out = assign_cadres(
        ordered=ordered,
        cadres=[cadre("FS", "first_secretary")],
        grid_responsible={},
        max_per_cadre=1,
    )
    assert {a.cadre_code for a in out.values()} == {"FS"}


def test_grid_responsible_then_first_secretary_when_no_responsible_cadre() -> None:
    households = [hh("H1", cadre=None), hh("H2", cadre="GONE")]
    households[1].grid_code = "G2"
    threats = [threat("Z1", "H1", "danger"), threat("Z1", "H2", "danger")]
    ordered = select_households(
        households=households, threats=threats, hazards=HAZARDS, scope=LEVEL_II
    )
    out = assign_cadres(
        ordered=ordered,
        cadres=[cadre("GM", "grid_member"), cadre("FS", "first_secretary")],
        grid_responsible={"G1": None, "G2": "GM"},
        max_per_cadre=10,
    )
    assert out["H1"].cadre_code == "FS"
    assert out["H2"].cadre_code == "GM"


def test_a_cadre_on_point_duty_is_passed_over_or_kept_only_when_nobody_else_is_free() -> None:
    households = [hh(f"H{i}", cadre="C1") for i in range(3)]
    threats = [threat("Z1", h.code, "danger") for h in households]
    ordered = select_households(
        households=households, threats=threats, hazards=HAZARDS, scope=LEVEL_II
    )
    cadres = [cadre("C1"), cadre("C2", "grid_member"), cadre("FS", "first_secretary")]
    out = assign_cadres(
        ordered=ordered, cadres=cadres, grid_responsible={}, max_per_cadre=10, busy={"C1"}
    )
    # the first secretary takes them; C1 stays named as the 包保责任人
    assert {a.cadre_code for a in out.values()} == {"FS"}
    assert all(a.original_cadre_code == "C1" and not a.busy_kept for a in out.values())
    everyone = {"C1", "C2", "FS"}
    out = assign_cadres(
        ordered=ordered, cadres=cadres, grid_responsible={}, max_per_cadre=10, busy=everyone
    )
    assert {(a.cadre_code, a.busy_kept) for a in out.values()} == {("C1", True)}
