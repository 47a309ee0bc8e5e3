"""三情叠加: monitored people into isolation places only, the others into spaced places."""

from __future__ import annotations

import pytest

from sanqing.rules.overlay import OverlayMover, OverlayShelter, place_with_epidemic
from sanqing.rules.shelters import Mover

SCHOOL = OverlayShelter("S1", 33.75, 105.72, capacity=10, isolation_places=3)
HALL = OverlayShelter("S2", 33.76, 105.73, capacity=6)
CLINIC = OverlayShelter("H1", 33.75, 105.72, capacity=50, isolation_places=20, medical=True)


def mover(code: str, people: int, monitored: bool = False) -> OverlayMover:
    return OverlayMover(Mover(code, people, 33.75, 105.72), monitored)


def test_monitored_households_go_only_to_isolation_places_and_nobody_is_mixed() -> None:
    movers = [mover("H1", 2, monitored=True), mover("H2", 4), mover("H3", 2), mover("H4", 1, True)]
    out = place_with_epidemic(
        movers, [SCHOOL, HALL, CLINIC], capacity_factor=0.6, max_distance_km=10
    )
    assert {p.household_code: p.shelter_code for p in out.isolation} == {"H1": "S1", "H4": "S1"}
    assert {p.household_code for p in out.general} == {"H2", "H3"}
    assert out.monitored_people_moved == 3 and out.in_isolation_places == 3
    assert out.mixed(["H1", "H4"]) == 0
    # the 卫生院 is never a shelter, however much room it has
    assert all(p.shelter_code != "H1" for p in out.general + out.isolation)


def test_spacing_cuts_general_capacity_and_the_shortfall_is_said_per_kind() -> None:
    # school 10 × 0.5 = 5, hall 6 × 0.5 = 3: 4 + 4 people fit one, the other fits nowhere
    movers = [mover("H2", 4), mover("H3", 4), mover("H5", 2, monitored=True)]
    no_isolation = OverlayShelter("S1", 33.75, 105.72, capacity=10)
    out = place_with_epidemic(
        movers, [no_isolation, HALL, CLINIC], capacity_factor=0.5, max_distance_km=10
    )
    placed = {p.household_code: p.shelter_code for p in out.general}
    assert placed == {"H2": "S1", "H3": None}
    assert out.shortfall(monitored=False) == 4
    # no isolation place anywhere (the clinic's do not count): the monitored are a shortfall,
    # never put among the others
    assert [p.shelter_code for p in out.isolation] == [None]
    assert out.shortfall(monitored=True) == 2 and out.in_isolation_places == 0


@pytest.mark.parametrize("factor", [0, -0.5, 1.5])
def test_a_spacing_factor_outside_0_to_1_is_refused(factor: float) -> None:
    with pytest.raises(ValueError):
        place_with_epidemic([], [SCHOOL], capacity_factor=factor, max_distance_km=10)


def test_places_already_taken_count_against_each_kind_on_its_own() -> None:
    # 3 isolation places, 2 taken; 10 general places spaced to 5, 4 taken
    school = OverlayShelter(
        "S1", 33.75, 105.72, capacity=10, isolation_places=3, occupied=4, isolation_occupied=2
    )
    movers = [mover("H1", 2, monitored=True), mover("H2", 1, monitored=True), mover("H3", 2)]
    out = place_with_epidemic(movers, [school], capacity_factor=0.5, max_distance_km=10)
    assert [p.shelter_code for p in out.isolation] == [None, "S1"]
    assert [p.shelter_code for p in out.general] == [None]
    assert out.shortfall(monitored=True) == 2 and out.shortfall(monitored=False) == 2
