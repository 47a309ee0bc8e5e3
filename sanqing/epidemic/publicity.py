"""Step 4 of the epidemic plan, 宣传引导: what every village hears and reads, and the
door-knocking (敲门行动) that reaches every household within the configured days.

Per village a WeChat group message and a loudspeaker script (no gatherings: 不聚集、
不扎堆), banner texts with where each hangs (to the group's leader), and per grid a
door-knocking list of its households, split over the days; each household knocked
is recorded. Notices go through the outbox writer with keys per village and grid:
issued again, nothing new is written.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.epidemic.groups import TownGroups
from sanqing.epidemic.notices import notice
from sanqing.epidemic.plan import EpidemicPlan
from sanqing.epidemic.resources import TownResources
from sanqing.models import Cadre, Channel, DoorKnock, Grid, Household, Town
from sanqing.outbox.keys import NoticeKey
from sanqing.outbox.rendering import render
from sanqing.outbox.writer import put
from sanqing.plans import Level

#: The banners' texts, zh-CN (the township's own words; en renders its own).
BANNERS = ("不聚集、不扎堆，戴口罩、勤洗手", "返乡人员请主动向村委会报告", "接种疫苗，全民免疫")


@dataclass(frozen=True)
class PublicityFigures:
    households: int
    door_knocked: int


def issue_publicity(
    session: Session,
    *,
    activation_id: str,
    town: Town,
    plan: EpidemicPlan,
    level: Level,
    groups: TownGroups,
    res: TownResources,
    locale: str,
    drill: bool,
) -> int:
    """Every village's publicity notices, and the door-knocking lists; how many notices."""
    channels = set(plan.levels[level].notices)
    ctx = {"town": town, "level": level, "plan_name": plan.levels[level].name, "drill": drill}
    rows = []
    for g in groups.groups:
        village = {"code": g.village_code, "name": g.village}
        leader = g.leader
        if Channel.WECHAT in channels:
            body = render(
                "notices/epidemic/publicity.wechat.txt", locale=locale, village=village, **ctx
            )
            key = NoticeKey(activation_id, Channel.WECHAT, "publicity", g.village_code)
            rows.append(_row(key, g.village_code, "group", g.village_code, None, locale, body))
        if Channel.LOUDSPEAKER in channels:
            body = render(
                "notices/epidemic/publicity.loudspeaker.txt", locale=locale, village=village, **ctx
            )
            key = NoticeKey(activation_id, Channel.LOUDSPEAKER, "publicity", g.village_code)
            rows.append(_row(key, g.village_code, "public", g.village_code, None, locale, body))
        if leader is not None:
            body = render(
                "notices/epidemic/banners.txt",
                locale=locale,
                village=village,
                places=res.banner_places,
                banners=BANNERS,
                **ctx,
            )
            key = NoticeKey(activation_id, Channel.TASK_LIST, "banners", g.village_code)
            rows.append(_row(key, g.village_code, "cadre", leader.code, leader.phone, locale, body))
    if Channel.DOOR_VISIT in channels:
        rows += _door_knocking(session, activation_id, groups, res, locale, ctx)
    return put(session, rows)


def _row(
    key: NoticeKey,
    village_code: str,
    audience: str,
    recipient: str,
    address: str | None,
    locale: str,
    body: str,
    body_format: str = "text",
) -> dict[str, object]:
    return notice(
        key,
        village_code=village_code,
        audience=audience,
        recipient=recipient,
        address=address,
        locale=locale,
        body=body,
        body_format=body_format,
    )


def _door_knocking(
    session: Session,
    activation_id: str,
    groups: TownGroups,
    res: TownResources,
    locale: str,
    ctx: dict[str, object],
) -> list[dict[str, object]]:
    """Per grid, its households split over ``door_knock_days``: one list to its member."""
    codes = [g.village_code for g in groups.groups]
    grids = {g.code: g for g in session.exec(select(Grid).where(col(Grid.village_code).in_(codes)))}
    by_grid: dict[str, list[Household]] = defaultdict(list)
    for h in session.exec(
        select(Household).where(col(Household.village_code).in_(codes)).order_by(Household.code)
    ):
        by_grid[h.grid_code or f"{h.village_code}-none"].append(h)
    knocks, rows = [], []
    days = res.door_knock_days
    for grid_code, households in sorted(by_grid.items()):
        per_day = -(-len(households) // days)
        plan = [(i // per_day + 1, h) for i, h in enumerate(households)]
        knocks += [_knock(activation_id, grid_code, day, h) for day, h in plan]
        grid = grids.get(grid_code)
        member = groups.cadres.get(grid.responsible_cadre_code or "") if grid else None
        member = member or _leader_of(groups, households[0].village_code)
        if member is None:
            continue
        body = render(
            "notices/epidemic/door_knock.html",
            locale=locale,
            grid=grid.name if grid else "",
            cadre=member,
            days=[(d, [h for dd, h in plan if dd == d]) for d in range(1, days + 1)],
            village={"name": _village_name(groups, households[0].village_code)},
            **ctx,
        )
        key = NoticeKey(activation_id, Channel.DOOR_VISIT, "door_knock", grid_code)
        rows.append(
            _row(
                key,
                households[0].village_code,
                "cadre",
                member.code,
                member.phone,
                locale,
                body,
                "html",
            )
        )
    if knocks:
        upsert(session, DoorKnock, knocks)
    return rows


def _knock(activation_id: str, grid_code: str, day: int, h: Household) -> dict[str, object]:
    return {
        "id": f"{activation_id}:{h.code}",
        "activation_id": activation_id,
        "household_code": h.code,
        "village_code": h.village_code,
        "grid_code": grid_code,
        "day": day,
    }


def _leader_of(groups: TownGroups, village_code: str) -> Cadre | None:
    g = groups.of_village(village_code)
    return g.leader if g else None


def _village_name(groups: TownGroups, village_code: str) -> str:
    g = groups.of_village(village_code)
    return g.village if g else village_code


def record_knocks(
    session: Session,
    *,
    activation_id: str,
    day: int,
    at: datetime,
    missed: set[str],
    note: str = "",
) -> int:
    """The day's households reached, but those ``missed`` (nobody opened); how many now."""
    n = 0
    for k in session.exec(
        select(DoorKnock).where(DoorKnock.activation_id == activation_id, DoorKnock.day == day)
    ):
        if k.knocked_at is None and k.household_code not in missed:
            k.knocked_at, k.note = at, note
            session.add(k)
            n += 1
    return n


def figures(
    session: Session, activation_id: str, *, until: datetime | None = None
) -> PublicityFigures:
    """Households on the lists, and those reached (by ``until``, when given)."""
    rows = session.exec(select(DoorKnock).where(DoorKnock.activation_id == activation_id)).all()
    reached = [r.knocked_at for r in rows if r.knocked_at is not None]
    return PublicityFigures(
        households=len(rows),
        door_knocked=sum(1 for at in reached if until is None or at <= until),
    )
