"""What a village plan says of 接送疫苗接种: the town's vaccination site and its vehicles.

From the town's ``epidemic.yaml``, as the flow's rides use them: the site's hours and
how many it vaccinates an hour, each vehicle's seats, wheelchair places, driver and
the driver's work phone (an internal document: officials' and drivers' work phones
only), and how many of the village's households the flow would offer a ride (the
elderly alone and the mobility-impaired, ``sanqing.epidemic.shuttles.riders_of``).
"""

from __future__ import annotations

from typing import Any

from sanqing.plandoc.book import HouseholdFacts, TownBook

#: Whom the flow offers a ride to the vaccination site (``shuttles.riders_of``).
RIDER_GROUPS = ("elderly_alone", "mobility_impaired")


def vaccination(book: TownBook, households: list[HouseholdFacts]) -> dict[str, Any] | None:
    """The site, the vehicles and the village's riders; None when the town has neither."""
    res = book.resources
    site = res.vaccination_site
    if site is None and not res.vehicles:
        return None
    riders = [h for h in households if any(g in h.groups for g in RIDER_GROUPS)]
    return {
        "site": None
        if site is None
        else {
            "name": site.name,
            "opens": site.opens.strftime("%H:%M"),
            "hours_open": site.hours_open,
            "per_hour": site.per_hour,
            "per_day": site.hours_open * site.per_hour,
            "round_trip_minutes": site.round_trip_minutes,
        },
        "vehicles": [
            {
                "code": v.code,
                "name": v.name,
                "seats": v.seats,
                "wheelchair_places": v.wheelchair_places,
                "driver": v.driver,
                "phone": v.phone,
            }
            for v in res.vehicles
        ],
        "seats": sum(v.seats for v in res.vehicles),
        "wheelchair_places": sum(v.wheelchair_places for v in res.vehicles),
        "riders": {
            "households": len(riders),
            "wheelchair": sum(1 for h in riders if "mobility_impaired" in h.groups),
        },
    }
