"""Machinery dispatch for blocked roads (sanqing/rules/roads.py)."""

from __future__ import annotations

from sanqing.rules.roads import BlockedRoad, FreeMachine, dispatch


def test_nearest_free_machine_oldest_incident_first_one_incident_per_machine() -> None:
    blocked = [BlockedRoad("old", 33.70, 105.66), BlockedRoad("new", 33.64, 105.61)]
    machines = [FreeMachine("M-south", 33.64, 105.61), FreeMachine("M-north", 33.70, 105.66)]
    assert dispatch(blocked=blocked, machines=machines) == {"old": "M-north", "new": "M-south"}


def test_more_incidents_than_machines_leaves_the_newest_waiting() -> None:
    blocked = [BlockedRoad("a", 33.70, 105.66), BlockedRoad("b", 33.70, 105.66)]
    out = dispatch(blocked=blocked, machines=[FreeMachine("M1", 33.64, 105.61)])
    assert out == {"a": "M1"}


def test_no_machines_no_dispatch() -> None:
    assert dispatch(blocked=[BlockedRoad("a", 0, 0)], machines=[]) == {}


def test_an_excavator_is_preferred_to_a_nearer_dump_truck() -> None:
    from sanqing.rules.roads import machine_preference

    prefs = ["挖掘机", "装载机"]
    machines = [
        FreeMachine("truck", 33.70, 105.66, machine_preference("自卸车", prefs)),
        FreeMachine("excavator", 33.64, 105.61, machine_preference("挖掘机", prefs)),
    ]
    assert dispatch(blocked=[BlockedRoad("a", 33.70, 105.66)], machines=machines) == {
        "a": "excavator"
    }
    assert machine_preference("自卸车", prefs) == 2
