"""Who must move, in what order, and which cadre takes them (应转尽转、应转早转).

Order: danger zone before alert zone; inside a zone five-guarantee households,
the elderly living alone, the mobility-impaired, left-behind children and
hardship households first (people before property); then the higher hazard risk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sanqing.models import (
    Cadre,
    CadreRole,
    HazardPoint,
    HazardThreat,
    Household,
    InspectionStatus,
    RiskLevel,
    Zone,
)
from sanqing.plans import RelocationScope, Urgent

#: Vulnerabilities in the order they are served first.
VULNERABILITIES: tuple[str, ...] = (
    "five_guarantee",
    "elderly_alone",
    "mobility_impaired",
    "left_behind_children",
    "hardship",
)
_ZONE_RANK = {Zone.DANGER: 0, Zone.ALERT: 1}

# Reasons a household moves (stored on the relocation, shown in lists and reports).
REASON_VULNERABLE = "vulnerable_in_hazard_zone"
REASON_DANGEROUS_HOUSE = "dangerous_house"
REASON_HAZARD_RISK = "hazard_risk"
REASON_DANGER_FINDING = "danger_finding"
REASON_CANNOT_JUDGE = "cannot_judge"  # 不能研判: moved as if danger had been found

#: Cadres who can take over door visits when a responsible cadre has too many households.
VISITING_ROLES = frozenset(
    {
        CadreRole.FIRST_SECRETARY,
        CadreRole.VILLAGE_CADRE,
        CadreRole.TEAM_MEMBER,
        CadreRole.GROUP_LEADER,
        CadreRole.GRID_MEMBER,
    }
)


def vulnerabilities_of(household: Household) -> tuple[str, ...]:
    """The household's vulnerability flags, most urgent first."""
    return tuple(v for v in VULNERABILITIES if getattr(household, v))


@dataclass(frozen=True)
class Candidate:
    """A household that must move, with why and how urgently."""

    household: Household
    zone: Zone
    hazard_codes: tuple[str, ...]
    reasons: tuple[str, ...]
    vulnerabilities: tuple[str, ...]
    max_risk: RiskLevel | None

    @property
    def sort_key(self) -> tuple[int, int, int, str]:
        return urgency(self.zone, self.vulnerabilities, self.max_risk, self.household.code)


def urgency(
    zone: str, vulnerabilities: Sequence[str], max_risk: str | None, household_code: str
) -> tuple[int, int, int, str]:
    """The relocation order, the one definition of it (in a village and across the town).

    Danger zone before alert zone; within a zone the most vulnerable first (五保户, 独居老人,
    行动不便, 留守儿童, 困难户, in that order), then the higher risk; the code breaks ties.
    """
    vuln = VULNERABILITIES.index(vulnerabilities[0]) if vulnerabilities else 99
    risk = -(RiskLevel(max_risk).rank if max_risk else -1)
    return (_ZONE_RANK.get(Zone(zone), 2), vuln, risk, household_code)


#: The inspection findings that move the threatened households at once, by trigger.
URGENT_FINDINGS = {
    Urgent.DANGER_FINDING: InspectionStatus.DANGER,
    Urgent.CANNOT_JUDGE: InspectionStatus.CANNOT_JUDGE,
}


def urgent_findings(bypass: Collection[Urgent]) -> list[InspectionStatus]:
    """The findings that make a move urgent under ``bypass`` (``is_urgent`` by day)."""
    return [status for trigger, status in URGENT_FINDINGS.items() if trigger in bypass]


def is_urgent(candidate: Candidate, *, bypass: Collection[Urgent], night: bool) -> bool:
    """三个紧急撤离: whether the household moves at once, without waiting for approval.

    Danger found at one of its points, a point its monitor cannot judge, or (at
    night) any planned move out of a danger zone: each counts only when the plan
    lists it in ``approval.bypass``.
    """
    return (
        (Urgent.DANGER_FINDING in bypass and REASON_DANGER_FINDING in candidate.reasons)
        or (Urgent.CANNOT_JUDGE in bypass and REASON_CANNOT_JUDGE in candidate.reasons)
        or (Urgent.NIGHT in bypass and night and candidate.zone == Zone.DANGER)
    )


def select_households(
    *,
    households: Iterable[Household],
    threats: Iterable[HazardThreat],
    hazards: Mapping[str, HazardPoint],
    scope: RelocationScope,
    findings: Mapping[str, InspectionStatus | str] | None = None,
) -> list[Candidate]:
    """Decide which households must move under ``scope``, given the inspection findings.

    A household threatened by several hazards appears once, with every hazard,
    its most severe zone and the highest risk among them.
    """
    findings = findings or {}
    by_household: dict[str, list[HazardThreat]] = defaultdict(list)
    for t in threats:
        by_household[t.household_code].append(t)
    out: list[Candidate] = []
    for hh in households:
        candidate = _candidate(
            hh, by_household.get(hh.code, ()), hazards=hazards, scope=scope, findings=findings
        )
        if candidate is not None:
            out.append(candidate)
    return order_candidates(out)


def _candidate(
    hh: Household,
    threats: Iterable[HazardThreat],
    *,
    hazards: Mapping[str, HazardPoint],
    scope: RelocationScope,
    findings: Mapping[str, InspectionStatus | str],
) -> Candidate | None:
    """The household as a candidate when any threat (or its house) moves it under ``scope``."""
    reasons: list[str] = []
    zone: Zone | None = None
    codes: list[str] = []
    max_risk: RiskLevel | None = None
    vulns = vulnerabilities_of(hh)
    for t in threats:
        hazard = hazards.get(t.hazard_code)
        if hazard is None:
            continue
        risk = RiskLevel(hazard.risk)
        t_zone, matched = _threat_reasons(
            t, risk, scope=scope, finding=findings.get(t.hazard_code), vulnerable=bool(vulns)
        )
        if not matched:
            continue
        reasons.extend(r for r in matched if r not in reasons)
        codes.append(t.hazard_code)
        if zone is None or _ZONE_RANK[t_zone] < _ZONE_RANK[zone]:
            zone = t_zone
        if max_risk is None or risk.rank > max_risk.rank:
            max_risk = risk
    if hh.safety_rating in scope.dangerous_house_ratings:
        reasons.append(REASON_DANGEROUS_HOUSE)
        zone = Zone.DANGER  # the house itself is the danger
    if not (reasons and zone is not None):
        return None
    return Candidate(
        household=hh,
        zone=zone,
        hazard_codes=tuple(sorted(codes)),
        reasons=tuple(reasons),
        vulnerabilities=vulns,
        max_risk=max_risk,
    )


def _threat_reasons(
    threat: HazardThreat,
    risk: RiskLevel,
    *,
    scope: RelocationScope,
    finding: InspectionStatus | str | None,
    vulnerable: bool,
) -> tuple[Zone, list[str]]:
    """Why one threat moves the household (none: it does not), and the zone it puts it in."""
    zone = Zone(threat.zone)
    matched: list[str] = []
    danger_found = finding in (InspectionStatus.DANGER, InspectionStatus.CANNOT_JUDGE)
    if danger_found and scope.on_danger_finding:
        matched.append(
            REASON_DANGER_FINDING if finding == InspectionStatus.DANGER else REASON_CANNOT_JUDGE
        )
        zone = Zone.DANGER  # danger seen on the ground: the whole threatened area
    if zone in set(scope.zones) or danger_found:
        if vulnerable and scope.vulnerable_in_hazard_zones:
            matched.append(REASON_VULNERABLE)
        min_risk = scope.risk_bar(zone)
        if min_risk is not None and risk.rank >= min_risk.rank:
            matched.append(REASON_HAZARD_RISK)
    return zone, matched


def order_candidates(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Sort candidates into the order they are moved (first = most urgent)."""
    return sorted(candidates, key=lambda c: c.sort_key)


@dataclass(frozen=True)
class CadreAssignment:
    cadre_code: str | None
    original_cadre_code: str | None  # the 包保责任人 when someone else took over
    # on duty at an epidemic point, kept only because nobody else of the village is free
    busy_kept: bool = False


def assign_cadres(
    *,
    ordered: Sequence[Candidate],
    cadres: Sequence[Cadre],
    grid_responsible: Mapping[str, str | None],
    max_per_cadre: int,
    existing_load: Mapping[str, int] | None = None,
    busy: Collection[str] = (),
) -> dict[str, CadreAssignment]:
    """Give every household to a cadre of its village who can visit it in time.

    The household's own 包保责任人 comes first, then the grid's responsible
    person, then the first secretary. A cadre already holding ``max_per_cadre``
    households hands further ones to the least-loaded visiting cadre of the
    village; when everyone is full the least-loaded still takes it (nobody is
    left without a cadre).

    A cadre in ``busy`` (on duty at an epidemic point for these hours: one roster of
    people for both plans) is passed over; only when nobody else of the village is
    free does the household stay with them (``busy_kept``).
    """
    known = {c.code: c for c in cadres}
    # Town leaders only ever appear here when the village has nobody of its own.
    visitors = sorted(c.code for c in cadres if c.role in VISITING_ROLES) or sorted(known)
    first_secretary = next((c.code for c in cadres if c.role == CadreRole.FIRST_SECRETARY), None)
    free = [code for code in visitors if code not in busy]
    load: dict[str, int] = defaultdict(int, existing_load or {})
    out: dict[str, CadreAssignment] = {}
    for cand in ordered:
        hh = cand.household
        own = hh.responsible_cadre_code if hh.responsible_cadre_code in known else None
        grid = grid_responsible.get(hh.grid_code or "")
        chain = [c for c in (own, grid if grid in known else None, first_secretary) if c]
        base = next((c for c in chain if c not in busy), None)
        chosen: str | None
        if base is not None and load[base] < max_per_cadre:
            chosen = base
        elif free:
            chosen = min(free, key=lambda code: (load[code], code))
        else:
            chosen = base or (chain[0] if chain else None)
        if chosen is not None:
            load[chosen] += 1
        original = own if own is not None and own != chosen else None
        out[hh.code] = CadreAssignment(chosen, original, busy_kept=chosen in busy)
    return out
