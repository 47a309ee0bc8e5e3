"""Shelter assignment under capacity (sanqing/rules/shelters.py)."""

from __future__ import annotations

from sanqing.rules.shelters import Mover, Placement, ShelterRoom, assign_shelters, shortfall_people

# Two shelters ~1.1 km apart on a north-south line.
NEAR = (33.640, 105.610)
FAR = (33.650, 105.610)


def test_nearest_shelter_with_room() -> None:
    out = assign_shelters(
        movers=[Mover("H1", 3, *NEAR)],
        shelters=[ShelterRoom("FAR", *FAR, 100), ShelterRoom("NEAR", *NEAR, 100)],
        max_distance_km=8,
    )
    assert out == [Placement("H1", "NEAR", 0.0)]


def test_a_household_is_never_split_and_goes_to_the_next_shelter_that_fits_whole() -> None:
    rooms = [ShelterRoom("NEAR", *NEAR, 5), ShelterRoom("FAR", *FAR, 10)]
    out = assign_shelters(
        movers=[Mover("H1", 3, *NEAR), Mover("H2", 4, *NEAR), Mover("H3", 2, *NEAR)],
        shelters=rooms,
        max_distance_km=8,
    )
    assert [p.shelter_code for p in out] == ["NEAR", "FAR", "NEAR"]
    assert rooms[0].occupied == 5 and rooms[1].occupied == 4


def test_overflow_is_a_shortfall_in_priority_order() -> None:
    movers = [Mover("FIRST", 4, *NEAR), Mover("SECOND", 4, *NEAR), Mover("THIRD", 1, *NEAR)]
    out = assign_shelters(
        movers=movers, shelters=[ShelterRoom("NEAR", *NEAR, 5)], max_distance_km=8
    )
    assert [p.shelter_code for p in out] == ["NEAR", None, "NEAR"]
    assert shortfall_people(out, {m.household_code: m.people for m in movers}) == 4


def test_village_without_shelter_uses_a_neighbours_within_reach() -> None:
    out = assign_shelters(
        movers=[Mover("H1", 2, 33.600, 105.610)],  # ~4.4 km south of NEAR
        shelters=[ShelterRoom("NEAR", *NEAR, 50)],
        max_distance_km=8,
    )
    assert out[0].shelter_code == "NEAR" and 4 < out[0].distance_km < 5


def test_shelter_beyond_reach_is_not_offered() -> None:
    out = assign_shelters(
        movers=[Mover("H1", 2, 33.500, 105.610)],  # ~15 km away
        shelters=[ShelterRoom("NEAR", *NEAR, 50)],
        max_distance_km=8,
    )
    assert out[0].shelter_code is None


def test_places_already_taken_count_against_capacity() -> None:
    out = assign_shelters(
        movers=[Mover("H1", 3, *NEAR)],
        shelters=[ShelterRoom("NEAR", *NEAR, 10, occupied=8), ShelterRoom("FAR", *FAR, 10)],
        max_distance_km=8,
    )
    assert out[0].shelter_code == "FAR"


def test_a_room_exactly_at_the_max_distance_is_in_reach() -> None:
    """Skipping rooms by their haversine term keeps a room at exactly the max distance."""
    from sanqing.geo import distance_km

    room = ShelterRoom("S1", 33.71, 105.72, 10)
    limit = distance_km(33.7, 105.7, room.lat, room.lon)
    mover = Mover("H1", 2, 33.7, 105.7)
    (placed,) = assign_shelters(movers=[mover], shelters=[room], max_distance_km=limit)
    assert placed.shelter_code == "S1"
    (missed,) = assign_shelters(
        movers=[mover],
        shelters=[ShelterRoom("S1", 33.71, 105.72, 10)],
        max_distance_km=limit * 0.999,
    )
    assert missed.shelter_code is None
