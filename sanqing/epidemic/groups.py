"""混合编组: the assistance team and the village's 两委 as one group per village, with a
leader, and the grid teams (包片领导, 第一书记, 村干部, 驻村干部, 社长) on their grids.

Read from the registry once per town; pure from there on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from sanqing.models import AssistanceTeam, Cadre, CadreRole, Grid, Village

#: Who forms a village's mixed group (the assistance team and the 两委), leader first.
GROUP_ROLES = (CadreRole.FIRST_SECRETARY, CadreRole.TEAM_MEMBER, CadreRole.VILLAGE_CADRE)


@dataclass
class MixedGroup:
    village_code: str
    village: str
    team: str  # the assistance team's name ('' without one)
    leader: Cadre | None
    members: list[Cadre]  # leader first
    town_leader: Cadre | None  # 包片领导
    grids: dict[str, list[Cadre]] = field(default_factory=dict)  # grid name → its team

    @property
    def codes(self) -> list[str]:
        return [c.code for c in self.members]


@dataclass
class TownGroups:
    groups: list[MixedGroup]
    leaders: list[Cadre]  # the town's leaders: staff the town's own points
    cadres: dict[str, Cadre]  # every cadre of the town by code

    def code_of(self, village_name: str | None) -> str | None:
        return next((g.village_code for g in self.groups if g.village == village_name), None)

    def of_village(self, village_code: str) -> MixedGroup | None:
        return next((g for g in self.groups if g.village_code == village_code), None)


def mixed_groups(session: Session, town_code: str) -> TownGroups:
    """Every village's mixed group and grid teams, from four queries for the whole town."""
    villages = list(
        session.exec(select(Village).where(Village.town_code == town_code).order_by(Village.code))
    )
    cadres = list(
        session.exec(select(Cadre).where(Cadre.town_code == town_code).order_by(Cadre.code))
    )
    codes = [v.code for v in villages]
    teams = {
        t.village_code: t.name
        for t in session.exec(
            select(AssistanceTeam).where(col(AssistanceTeam.village_code).in_(codes))
        )
    }
    grids = list(
        session.exec(select(Grid).where(col(Grid.village_code).in_(codes)).order_by(Grid.code))
    )
    leaders = [c for c in cadres if c.role == CadreRole.TOWN_LEADER]
    by_village: dict[str | None, list[Cadre]] = defaultdict(list)
    for c in cadres:
        by_village[c.village_code].append(c)
    groups = [
        _group(v, teams.get(v.code, ""), by_village[v.code], grids, leaders, i)
        for i, v in enumerate(villages)
    ]
    return TownGroups(groups, leaders, {c.code: c for c in cadres})


def _group(
    village: Village,
    team: str,
    cadres: list[Cadre],
    grids: list[Grid],
    leaders: list[Cadre],
    index: int,
) -> MixedGroup:
    members = sorted(
        (c for c in cadres if c.role in GROUP_ROLES),
        key=lambda c: (GROUP_ROLES.index(c.role), c.code),
    )
    by_code = {c.code: c for c in cadres}
    # the town's leaders take the villages in turn as 包片领导 (the first is the 镇长: kept
    # for the command post when there are enough)
    area_leaders = leaders[1:] or leaders
    town_leader = area_leaders[index % len(area_leaders)] if area_leaders else None
    group = MixedGroup(
        village_code=village.code,
        village=village.name,
        team=team,
        leader=members[0] if members else None,
        members=members,
        town_leader=town_leader,
    )
    leader = members[:1]
    for g in (g for g in grids if g.village_code == village.code):
        own = [by_code[g.responsible_cadre_code]] if g.responsible_cadre_code in by_code else []
        group.grids[g.name] = [*([town_leader] if town_leader else []), *leader, *own]
    return group
