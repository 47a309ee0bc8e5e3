"""A village's facts as the notice templates read them, in one locale.

The warning by its official name, each hazard point and each move (built once,
however many notices use it), the shelters with who runs them, and the village's
summary for its WeChat group and loudspeaker.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sanqing.labels import group_order, label
from sanqing.models import Activation, CadreRole
from sanqing.outbox.cards import UNSAFE_RATINGS, person, shelter_context, town_context
from sanqing.outbox.village import VillageFacts
from sanqing.plans import Plan
from sanqing.warning import WarningInfo


def warning_context(warning: dict[str, Any] | None, locale: str) -> dict[str, Any]:
    """A warning as notices name it; ``formal`` is its official name (…预警信号)."""
    if not warning:
        return {
            "present": False,
            "title": "",
            "formal": "",
            "headline": "",
            "sender": "",
            "sent": None,
        }
    w = WarningInfo.model_validate(warning)
    title = w.name(locale)
    # its official name (暴雨橙色预警信号); a hazard without one is called by its title
    pattern = label(locale, "warning_formal", w.hazard)
    formal = (
        pattern.format(colour=label(locale, "colour", w.colour)) if pattern != w.hazard else title
    )
    return {
        "present": True,
        "title": title,
        "formal": formal,
        "headline": w.headline,
        "sender": w.sender,
        "sent": w.sent,
        "colour": w.colour.value,
        "hazard": w.hazard,
    }


class NoticeContext:
    """Template context for one village's notices; each hazard and move is built once."""

    def __init__(
        self, facts: VillageFacts, locale: str, epidemic: dict[str, str] | None = None
    ) -> None:
        self.facts = facts
        self.locale = locale
        #: 三情叠加: the epidemic response running in the town (its level and names), if any
        self.epidemic = epidemic
        self._hazards: dict[str, dict[str, Any]] = {}
        self._moves: dict[str, dict[str, Any]] = {}
        self._cadres: dict[str, dict[str, str]] = {}

    def common(self, *, activation: Activation, plan: Plan, now: datetime) -> dict[str, Any]:
        """What every notice of the village is rendered with."""
        village = self.facts.village
        return {
            "drill": activation.drill,
            "town": town_context(self.facts.town),
            "village": {"code": village.code, "name": village.name},
            "level": activation.level,
            "level_name": plan.level(activation.level).name,
            "warning": warning_context(activation.warning, self.locale),
            "first_secretary": person(self._first_secretary(), self.locale),
            "generated_at": now,
            "issued_on": now,
            "repeats": plan.defaults.broadcast_repeats,
            "epidemic": self.epidemic,
        }

    def _first_secretary(self) -> Any:
        """The village's 驻村第一书记, if it has one."""
        return next(
            (
                c
                for c in self.facts.cadres.values()
                if c.village_code == self.facts.village.code and c.role == CadreRole.FIRST_SECRETARY
            ),
            None,
        )

    def cadre(self, code: str | None) -> dict[str, str]:
        """A cadre of the town by code; an unknown one (or none) gives blanks. Built once."""
        key = code or ""
        if key not in self._cadres:
            self._cadres[key] = person(self.facts.cadres.get(key), self.locale)
        return self._cadres[key]

    def shelter(self, code: str | None) -> dict[str, Any] | None:
        """A shelter with its 负责人; ``None`` when there is no such shelter."""
        return shelter_context(self.facts.book, self.facts.shelters.get(code or ""), self.locale)

    def hazard(self, code: str) -> dict[str, Any]:
        """A hazard point: name, kind, risk, its warning signal and evacuation route."""
        if code not in self._hazards:
            h = self.facts.hazards[code]
            self._hazards[code] = {
                "code": h.code,
                "name": h.name,
                "kind": label(self.locale, "hazard_kind", h.kind),
                "risk": label(self.locale, "risk", h.risk),
                "warning_signal": h.warning_signal,
                "evacuation_route": h.evacuation_route,
                "kind_code": h.kind,
            }
        return self._hazards[code]

    def move(self, r: Any) -> dict[str, Any]:
        """The household's move: who, where to, why, and the hazards with its zone for each."""
        code = r.household_code
        if code not in self._moves:
            self._moves[code] = self._build_move(code)
        return self._moves[code]

    def _build_move(self, household_code: str) -> dict[str, Any]:
        locale = self.locale
        r = self.facts.moving[household_code]
        h = self.facts.households[household_code]
        zones = dict(self.facts.book.threats.get(household_code, []))
        return {
            "priority": r.priority,
            "household_code": h.code,
            "head_name": h.head_name,
            "group": h.group_name,
            "address": h.address,
            "people": r.people,
            "phone": h.phone or "",
            "vulnerabilities": [label(locale, "vulnerability", v) for v in r.vulnerabilities],
            "zone": label(locale, "zone", r.zone),
            "reasons": [label(locale, "reason", x) for x in r.reasons],
            # Each hazard with the zone this household is in for it (滑坡危险区, 泥石流威胁区).
            "hazards": [
                self.hazard(c)
                | {
                    "zone": label(locale, "zone", zones[c]) if c in zones else "",
                    "zone_code": zones.get(c, ""),
                }
                for c in r.hazard_codes
                if c in self.facts.hazards
            ],
            "safety_rating": h.safety_rating,
            "house_unsafe": h.safety_rating in UNSAFE_RATINGS,
            "found_danger": "danger_finding" in r.reasons,
            "shelter": self.shelter(r.shelter_code),
            "shortfall": r.shortfall,
            "isolation": r.isolation,  # 三情叠加: an isolation place, masked, apart
        }

    def summary(self) -> dict[str, Any]:
        """The village's move at a glance: how many, which 社 go to which shelters, hazards."""
        relocations = self.facts.relocations
        groups = self._moving_groups()
        # Only shelters that really took this village's households: never send people to a
        # shelter without room.
        used_shelters = sorted({r.shelter_code for r in relocations if r.shelter_code})
        village_shelters = [self.shelter(s) for s in used_shelters]
        return {
            "households": len(relocations),
            "people": sum(r.people for r in relocations),
            "groups": groups,
            "group_shelters": [
                {
                    "groups": gs,
                    "shelters": [self.shelter(c) for c in codes if c],
                    "shortfall": "" in codes,
                }
                for codes, gs in self._groups_by_shelters(groups).items()
            ],
            "shelters": [s for s in village_shelters if s],
            "hazards": [self.hazard(h.code) for h in self.facts.village_hazards],
        }

    def _moving_groups(self) -> list[str]:
        """The 社 with a household that moves, in the village's order."""
        households = self.facts.households
        return sorted(
            {households[r.household_code].group_name for r in self.facts.relocations},
            key=group_order,
        )

    def _groups_by_shelters(self, groups: list[str]) -> dict[tuple[str, ...], list[str]]:
        """Which 社 goes where, for the loudspeaker: 社 sent to the same shelters go together.

        A 社 with a household that found no room has ``""`` among its shelters.
        """
        group_shelters: dict[str, set[str]] = defaultdict(set)
        for r in self.facts.relocations:
            group_shelters[self.facts.households[r.household_code].group_name].add(
                r.shelter_code or ""
            )
        same_way: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for g in groups:
            same_way[tuple(sorted(group_shelters[g]))].append(g)
        return same_way
