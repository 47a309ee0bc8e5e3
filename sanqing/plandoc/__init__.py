"""Village plan documents (村级疫情、汛情防控预案), printed from the registry.

``book`` (the town's registry, read once, households without personal data, with the
epidemic flow's mixed groups and the town's ``epidemic.yaml``), ``people`` (mixed group,
leader and 包片领导, grids, the village's points and 24-hour duty under the epidemic
plan's rules), ``places`` (hazard points, shelters, routes, special groups), ``rides``
(接送疫苗接种: site and vehicles), ``document`` (a village's context and the files
``sanqing plans print`` writes).
"""

from __future__ import annotations

from sanqing.plandoc.book import SPECIAL_GROUPS, HouseholdFacts, TownBook, load_town_book
from sanqing.plandoc.document import (
    FORMATS,
    PlansPrinted,
    find_village,
    print_village_plans,
    village_plan,
)

__all__ = [
    "FORMATS",
    "SPECIAL_GROUPS",
    "HouseholdFacts",
    "PlansPrinted",
    "TownBook",
    "find_village",
    "load_town_book",
    "print_village_plans",
    "village_plan",
]
