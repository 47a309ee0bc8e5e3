"""Village plan documents (sanqing/plandoc/, ``sanqing plans print``).

A small town built in memory (its mixed groups formed by the flow's own
``mixed_groups`` over an in-memory database) pins the context and the rendered plans
(golden files, both locales); the sample town in a database checks the counts against
the registry, that the plan names the points and people the flow staffs, the few
queries, what households may show, and the command.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlmodel import Session, SQLModel, delete, select
from typer.testing import CliRunner

from cli.main import app
from sanqing import db
from sanqing.epidemic.duty import staffed_points
from sanqing.epidemic.groups import TownGroups, mixed_groups
from sanqing.epidemic.plan import EpidemicPlan, load_epidemic_plan
from sanqing.epidemic.resources import Point, Site, TownResources, Vehicle, load_town_resources
from sanqing.errors import SanqingError, UnknownVillage
from sanqing.models import (
    AssistanceTeam,
    Cadre,
    CadreRole,
    Grid,
    HazardKind,
    HazardPoint,
    HazardThreat,
    Household,
    RiskLevel,
    Shelter,
    Town,
    Village,
    Zone,
)
from sanqing.outbox.rendering import render
from sanqing.plandoc import (
    HouseholdFacts,
    TownBook,
    find_village,
    load_town_book,
    village_plan,
)
from sanqing.plans import Level
from sanqing.registry import ensure_registry
from sanqing.settings import SUPPORTED_LOCALES, get_settings

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"
UPDATE_GOLDEN = os.environ.get("SANQING_UPDATE_GOLDEN") == "1"
ISSUED = datetime(2026, 5, 20, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, before the flood season
JIFENG = "621221106"
JIXIN = "621221106201"


@pytest.fixture(scope="module")
def plan() -> EpidemicPlan:
    return load_epidemic_plan()


# --- a small town, in memory ------------------------------------------------------------

V = "621221106209"


def _cadre(n: int, name: str, role: CadreRole, title: str, **kw: Any) -> Cadre:
    return Cadre(
        code=f"{V}-C{n:02d}",
        town_code=JIFENG,
        village_code=V,
        name=name,
        role=role,
        title=title,
        phone=f"1389390{n:04d}",
        **kw,
    )


def _household(n: int, grid: str | None, group: str, members: int, *marks: str) -> HouseholdFacts:
    return HouseholdFacts(
        code=f"{V}-H{n:04d}",
        village_code=V,
        grid_code=grid,
        group_name=group,
        head_name=f"户主{n}",
        members=members,
        responsible_cadre_code=f"{V}-C03" if marks and n != 4 else None,
        groups=marks,
    )


def _hazard(n: int, name: str, kind: HazardKind, route: str) -> HazardPoint:
    return HazardPoint(
        code=f"{V}-Z00{n}",
        village_code=V,
        name=name,
        kind=kind,
        risk=RiskLevel.HIGH,
        lat=33.7,
        lon=105.6,
        description="",
        monitor_cadre_code=f"{V}-C04" if n == 1 else None,
        warning_signal="鸣锣",
        evacuation_route=route,
    )


def regroup(book: TownBook) -> TownBook:
    """The book's mixed groups as the flow forms them: ``mixed_groups`` over its rows.

    As ``load_town_book`` does, the book's cadres become the groups' own, so a name
    changed on one is changed in the plan everywhere.
    """
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine)
    rows: list[Any] = [book.town, *book.villages, *book.cadres.values()]
    rows += [t for ts in book.teams.values() for t in ts]
    rows += [g for gs in book.grids.values() for g in gs]
    with Session(engine, expire_on_commit=False) as s:
        s.add_all([type(r).model_validate(r.model_dump()) for r in rows])
        s.commit()
        book.groups = mixed_groups(s, book.town.code)
    book.cadres = book.groups.cadres
    return book


def small_resources() -> TownResources:
    """The village's 卡点, the town's 检测点 (no village), a site and two vehicles."""
    return TownResources(
        points=[
            Point(code="JF-P01", name="鸡峰镇卫生院核酸检测点", kind="检测点", place="卫生院门前"),
            Point(code="QS-P1", name="青石村进村卡点", kind="卡点", village="青石村", place="村口"),
        ],
        vaccination_site=Site(name="鸡峰镇卫生院预防接种门诊", per_hour=20),
        vehicles=[
            Vehicle(
                code="V1", name="镇政府公务用车", seats=6, driver="王建国", phone="18093930101"
            ),
            Vehicle(
                code="V2",
                name="卫生院转运车",
                seats=4,
                wheelchair_places=1,
                driver="张永红",
                phone="18093930102",
            ),
        ],
    )


def small_book() -> TownBook:
    """One village: a team of two, two 两委 cadres, two grids, five households, two hazards,
    one 卡点 of its own; the town's 检测点, vaccination site and two vehicles."""
    town = Town(
        code=JIFENG,
        key="jifeng",
        name="鸡峰镇",
        county_code="621221",
        county="成县",
        office="鸡峰镇人民政府",
        duty_phone="0939-3239838",
        lat=33.68,
        lon=105.63,
        medical_unit="鸡峰镇卫生院",
        medical_unit_phone="0939-3277960",
    )
    village = Village(code=V, town_code=JIFENG, name="青石村", lat=33.7, lon=105.6)
    cadres = [
        Cadre(
            code=f"{JIFENG}-C01",
            town_code=JIFENG,
            name="徐文成",
            role=CadreRole.TOWN_LEADER,
            title="镇党委副书记、镇长",
            phone="18979368864",
        ),
        _cadre(1, "王立新", CadreRole.VILLAGE_CADRE, "青石村村党支部书记"),
        _cadre(2, "赵明", CadreRole.TEAM_MEMBER, "成县水务局驻青石村工作队员", team_code=f"{V}-D1"),
        _cadre(3, "李红", CadreRole.FIRST_SECRETARY, "成县水务局派驻青石村第一书记"),
        _cadre(4, "陈刚", CadreRole.VILLAGE_CADRE, "青石村村委会主任"),
        _cadre(5, "周平", CadreRole.GROUP_LEADER, "青石村一社社长"),
        _cadre(6, "吴静", CadreRole.GRID_MEMBER, "青石村第一网格网格员"),
    ]
    households = [
        _household(1, f"{V}-G1", "一社", 4),
        _household(2, f"{V}-G1", "二社", 3, "elderly_alone", "mobility_impaired"),
        _household(3, f"{V}-G2", "三社", 5, "left_behind_children"),
        _household(4, f"{V}-G2", "三社", 1, "five_guarantee"),  # nobody answers for it yet
        _household(5, None, "三社", 2),  # in no grid
    ]
    book = TownBook(
        town=town,
        villages=[village],
        teams={
            V: [
                AssistanceTeam(
                    code=f"{V}-D1",
                    village_code=V,
                    name="成县水务局驻青石村帮扶工作队",
                    sent_by="成县水务局",
                )
            ]
        },
        cadres={c.code: c for c in cadres},
        grids={
            V: [
                Grid(
                    code=f"{V}-G1",
                    village_code=V,
                    name="第一网格（一社—二社）",
                    responsible_cadre_code=f"{V}-C06",
                ),
                Grid(code=f"{V}-G2", village_code=V, name="第二网格（三社）"),
            ]
        },
        households={h.code: h for h in households},
        hazards={
            V: [
                _hazard(1, "青石沟泥石流", HazardKind.DEBRIS_FLOW, "沿村道向北撤至青石村村委会"),
                _hazard(2, "三社后山滑坡", HazardKind.LANDSLIDE, "沿村道向北撤至青石村村委会"),
            ]
        },
        threats={
            f"{V}-Z001": [(f"{V}-H0002", Zone.DANGER), (f"{V}-H0003", Zone.ALERT)],
            f"{V}-Z002": [(f"{V}-H0003", Zone.DANGER), (f"{V}-H0004", Zone.ALERT)],
        },
        shelters={
            V: [
                Shelter(
                    code=f"{V}-S1",
                    town_code=JIFENG,
                    village_code=V,
                    name="青石村村委会",
                    kind="村委会",
                    capacity=9,
                    lat=33.7,
                    lon=105.6,
                    manager_cadre_code=f"{V}-C01",
                ),
            ]
        },
        groups=TownGroups([], [], {}),
        resources=small_resources(),
    )
    return regroup(book)


def small_plan(plan: EpidemicPlan, locale: str = "zh-CN") -> dict[str, Any]:
    book = small_book()
    return village_plan(book, book.villages[0], plan=plan, locale=locale, now=ISSUED)


def test_the_first_secretary_leads_the_team_and_the_two_committees(plan: EpidemicPlan) -> None:
    group = small_plan(plan)["group"]
    assert group["leader"]["name"] == "李红"
    assert [m["name"] for m in group["members"]] == ["李红", "赵明", "王立新", "陈刚"]
    assert [m["leads"] for m in group["members"]] == [True, False, False, False]
    assert group["teams"] == [
        {"code": f"{V}-D1", "name": "成县水务局驻青石村帮扶工作队", "sent_by": "成县水务局"}
    ]
    # the town's only leader is its 包片领导 (with more, the first stays at the command post)
    assert group["area_leader"]["name"] == "徐文成"


def test_without_a_team_the_first_village_cadre_leads(plan: EpidemicPlan) -> None:
    book = small_book()
    book.teams = {}
    for code in (f"{V}-C02", f"{V}-C03"):
        del book.cadres[code]
    regroup(book)
    ctx = village_plan(book, book.villages[0], plan=plan, locale="zh-CN", now=ISSUED)
    assert ctx["group"]["teams"] == []
    assert ctx["group"]["leader"]["name"] == "王立新"  # C01 before C04
    text = render("plans/village.txt", locale="zh-CN", **ctx)
    assert "本村未派驻驻村工作队" in text and "组长由王立新" in text
    # Two people cannot keep even one point 24 hours under the plan's rules: said, not hidden.
    iv, iii = ctx["duty"]["levels"][:2]
    assert (iv["points"], iv["uncovered_hours"]) == ([], 0)  # the 卡点 opens at level III
    assert (iii["points"], iii["uncovered_hours"]) == (["青石村进村卡点"], 8)
    assert "每日缺口8小时" in render("plans/village.html", locale="zh-CN", **ctx)


def test_a_team_member_leads_without_a_first_secretary_as_the_flow_has_it(
    plan: EpidemicPlan,
) -> None:
    book = small_book()
    del book.cadres[f"{V}-C03"]
    regroup(book)
    group = village_plan(book, book.villages[0], plan=plan, locale="zh-CN", now=ISSUED)["group"]
    assert group["leader"]["name"] == "赵明"
    assert [m["name"] for m in group["members"]] == ["赵明", "王立新", "陈刚"]


def test_no_cadre_at_all_leaves_the_leader_to_the_town(plan: EpidemicPlan) -> None:
    book = small_book()
    book.teams = {}
    book.cadres = {c: x for c, x in book.cadres.items() if x.village_code is None}
    regroup(book)
    ctx = village_plan(book, book.villages[0], plan=plan, locale="zh-CN", now=ISSUED)
    assert ctx["group"]["leader"] is None and ctx["group"]["members"] == []
    assert "组长未明确" in render("plans/village.txt", locale="zh-CN", **ctx)


def test_counts_of_grids_hazards_shelters_and_special_groups(plan: EpidemicPlan) -> None:
    ctx = small_plan(plan)
    assert (ctx["households"], ctx["people"]) == (5, 15)
    g1, g2 = ctx["grids"]["grids"]
    assert (g1["households"], g1["people"], g1["groups"]) == (2, 7, ["一社", "二社"])
    assert g1["responsible"]["name"] == "吴静" and g2["responsible"] is None
    assert ctx["grids"]["ungridded"] == {"households": 1, "people": 2}
    risk = ctx["risk"]
    assert [h["danger"] for h in risk["hazards"]] == [
        {"households": 1, "people": 3},
        {"households": 1, "people": 5},
    ]
    # H0003 is in one hazard's alert zone and the other's danger zone: danger, counted once.
    assert risk["danger"] == {"households": 2, "people": 8}
    assert risk["alert"] == {"households": 1, "people": 1}
    assert risk["threatened"] == {"households": 3, "people": 9}
    shelters = ctx["shelters"]
    assert (shelters["capacity"], shelters["capacity_epidemic"], shelters["shortfall"]) == (9, 4, 0)
    assert shelters["isolation_places"] == 0
    assert ctx["routes"] == [
        {"route": "沿村道向北撤至青石村村委会", "hazards": ["青石沟泥石流", "三社后山滑坡"]}
    ]
    counts = {c["code"]: (c["households"], c["people"]) for c in ctx["special"]["counts"]}
    assert counts == {
        "five_guarantee": (1, 1),
        "elderly_alone": (1, 3),
        "mobility_impaired": (1, 3),
        "left_behind_children": (1, 5),
        "hardship": (0, 0),
    }
    assert ctx["special"]["without_responsible"] == 1
    assert [h["head_name"] for h in ctx["special"]["households"]] == ["户主2", "户主3", "户主4"]


def test_a_village_whose_only_point_is_a_checkpoint_shows_it_with_its_level(
    plan: EpidemicPlan,
) -> None:
    ctx = small_plan(plan)
    duty = ctx["duty"]
    assert duty["points"] == [
        {
            "code": "QS-P1",
            "name": "青石村进村卡点",
            "kind": "卡点",
            "place": "村口",
            "from_level": "III",
        }
    ]
    assert [p["name"] for p in duty["town_points"]] == ["鸡峰镇卫生院核酸检测点"]
    assert [(x["level"], x["points"]) for x in duty["levels"]] == [
        ("IV", []),
        ("III", ["青石村进村卡点"]),
        ("II", ["青石村进村卡点"]),
        ("I", ["青石村进村卡点"]),
    ]
    # four people keep one point around the clock
    assert [x["uncovered_hours"] for x in duty["levels"]] == [0, 0, 0, 0]
    text = render("plans/village.txt", locale="zh-CN", **ctx)
    assert "1. 青石村进村卡点（卡点，村口）：Ⅲ级及以上响应启用。" in text
    assert "疫情防控Ⅳ级响应：本级无本村点位；" in text
    assert "鸡峰镇卫生院核酸检测点（检测点，卫生院门前，Ⅳ级及以上响应启用）" in text
    en = render("plans/village.txt", locale="en", **small_plan(plan, "en"))
    assert "青石村进村卡点 (checkpoint, 村口): level III and above." in en


def test_a_village_without_points_says_so_at_every_level(plan: EpidemicPlan) -> None:
    book = small_book()
    book.resources = TownResources()
    ctx = village_plan(book, book.villages[0], plan=plan, locale="zh-CN", now=ISSUED)
    assert ctx["duty"]["points"] == [] and ctx["vaccination"] is None
    assert all(x["points"] == [] and x["shifts"] == 0 for x in ctx["duty"]["levels"])
    text = render("plans/village.txt", locale="zh-CN", **ctx)
    assert "本村未设值守点位" in text and "每日缺口" not in text
    assert "接送疫苗接种" not in text and "\n七、应急联络\n" in text


def test_a_point_of_a_kind_no_level_staffs_is_said_so(plan: EpidemicPlan) -> None:
    book = small_book()
    more = [Point(code="QS-P2", name="青石村物资点", kind="物资点", village="青石村")]
    book.resources = book.resources.model_copy(update={"points": book.resources.points + more})
    ctx = village_plan(book, book.villages[0], plan=plan, locale="zh-CN", now=ISSUED)
    assert ctx["duty"]["points"][1]["from_level"] is None
    assert "青石村物资点（物资点）：各级响应均不值守。" in render(
        "plans/village.txt", locale="zh-CN", **ctx
    )


def test_rides_to_vaccination_name_the_site_and_the_vehicles(plan: EpidemicPlan) -> None:
    ctx = small_plan(plan)
    vx = ctx["vaccination"]
    assert vx["site"]["per_day"] == 8 * 20 and vx["site"]["opens"] == "08:30"
    assert (vx["seats"], vx["wheelchair_places"]) == (10, 1)
    # H0002 lives alone and cannot walk far: one household, one wheelchair place
    assert vx["riders"] == {"households": 1, "wheelchair": 1}
    text = render("plans/village.txt", locale="zh-CN", **ctx)
    assert "七、接送疫苗接种" in text and "\n八、应急联络\n" in text
    assert "2. 卫生院转运车：座位4个，轮椅位1个；驾驶员张永红（18093930102）" in text
    book = small_book()
    book.resources = book.resources.model_copy(update={"vehicles": []})
    ctx = village_plan(book, book.villages[0], plan=plan, locale="zh-CN", now=ISSUED)
    assert "镇尚未落实接送车辆" in render("plans/village.html", locale="zh-CN", **ctx)


def test_isolation_places_are_read_when_shelters_have_them(plan: EpidemicPlan) -> None:
    book = small_book()
    shelter = book.shelters[V][0]
    object.__setattr__(shelter, "isolation_places", 3)  # the column another change adds
    ctx = village_plan(book, book.villages[0], plan=plan, locale="zh-CN", now=ISSUED)
    assert ctx["shelters"]["isolation_places"] == 3


def test_a_shelter_shortfall_is_printed(plan: EpidemicPlan) -> None:
    book = small_book()
    book.shelters[V][0].capacity = 5
    ctx = village_plan(book, book.villages[0], plan=plan, locale="zh-CN", now=ISSUED)
    assert ctx["shelters"]["shortfall"] == 4
    assert "安置位尚缺4个" in render("plans/village.txt", locale="zh-CN", **ctx)
    assert "4 places are missing" in render("plans/village.txt", locale="en", **ctx)


def test_hostile_names_are_escaped_in_html_and_kept_in_text(plan: EpidemicPlan) -> None:
    book = small_book()
    book.cadres[f"{V}-C03"].name = "<script>alert(1)</script>"
    book.grids[V][0].name = "</td><td>网格"
    h = book.households[f"{V}-H0002"]
    book.households[h.code] = HouseholdFacts(**{**h.__dict__, "head_name": "<img src=x>"})
    res = book.resources
    book.resources = res.model_copy(
        update={
            "points": [res.points[0], res.points[1].model_copy(update={"name": "<b>卡点</b>"})],
            "vehicles": [res.vehicles[0].model_copy(update={"driver": "<i>司机</i>"})],
        }
    )
    for locale in SUPPORTED_LOCALES:
        ctx = village_plan(book, book.villages[0], plan=plan, locale=locale, now=ISSUED)
        html = render("plans/village.html", locale=locale, **ctx)
        assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<img" not in html and "&lt;img src=x&gt;" in html
        assert "</td><td>网格" not in html
        assert "<b>" not in html and "&lt;b&gt;卡点&lt;/b&gt;" in html
        assert "<i>" not in html and "&lt;i&gt;司机&lt;/i&gt;" in html
        text = render("plans/village.txt", locale=locale, **ctx)
        assert "<script>alert(1)</script>" in text  # text is text


def test_a_village_is_found_by_code_or_name_and_an_unknown_one_named() -> None:
    book = small_book()
    assert find_village(book, V).name == "青石村"
    assert find_village(book, "青石村").code == V
    with pytest.raises(UnknownVillage, match=r"石门村.*鸡峰镇.*青石村"):
        find_village(book, "石门村")


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("fmt", ["html", "txt"])
def test_plan_matches_golden_file(plan: EpidemicPlan, locale: str, fmt: str) -> None:
    text = render(f"plans/village.{fmt}", locale=locale, **small_plan(plan, locale))
    golden = GOLDEN_DIR / locale / "plans" / f"village.{fmt}"
    if UPDATE_GOLDEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(text.encode("utf-8"))
    assert golden.exists(), f"{golden} is missing: run with SANQING_UPDATE_GOLDEN=1 to create it"
    assert text == golden.read_bytes().decode("utf-8"), (
        f"{locale}/plans/village.{fmt} differs from {golden}; if the change is meant, "
        "rerun with SANQING_UPDATE_GOLDEN=1 and review the diff"
    )


def test_the_zh_plan_reads_as_a_township_document(plan: EpidemicPlan) -> None:
    text = render("plans/village.txt", locale="zh-CN", **small_plan(plan))
    assert text.startswith("鸡峰镇青石村疫情、汛情防控预案\n")
    headings = [line for line in text.splitlines() if re.match(r"^[一二三四五六七八]、", line)]
    assert headings == [
        "一、组织机构",
        "二、网格划分",
        "三、值守点位与24小时执勤",
        "四、隐患点与监测",
        "五、避险安置点及转移路线",
        "六、特殊群体包保",
        "七、接送疫苗接种",
        "八、应急联络",
    ]
    assert text.rstrip().splitlines()[-2:] == [
        " " * 40 + "鸡峰镇人民政府",
        " " * 40 + "2026年5月20日",
    ]


# --- the sample town, from the database ---------------------------------------------------


def test_counts_match_the_registry(db_url: str, plan: EpidemicPlan) -> None:
    ensure_registry("jifeng")
    with db.session_scope() as s:
        book = load_town_book(s, town_code=JIFENG)
        households = s.exec(select(Household).where(Household.village_code == JIXIN)).all()
        threats = s.exec(
            select(HazardThreat).join(HazardPoint).where(HazardPoint.village_code == JIXIN)
        ).all()
        capacity = sum(
            x.capacity for x in s.exec(select(Shelter).where(Shelter.village_code == JIXIN))
        )
    ctx = village_plan(book, find_village(book, JIXIN), plan=plan, locale="zh-CN", now=ISSUED)
    assert ctx["households"] == len(households)
    assert ctx["people"] == sum(h.members for h in households)
    gridded = sum(g["households"] for g in ctx["grids"]["grids"])
    assert gridded + ctx["grids"]["ungridded"]["households"] == len(households)
    assert ctx["risk"]["threatened"]["households"] == len({t.household_code for t in threats})
    assert ctx["shelters"]["capacity"] == capacity
    for c in ctx["special"]["counts"]:
        assert c["households"] == sum(1 for h in households if getattr(h, c["code"]))
    assert ctx["group"]["leader"]["title"].endswith("第一书记")


def test_the_registry_is_read_in_a_few_queries_whatever_the_villages(db_url: str) -> None:
    ensure_registry("jifeng")
    statements: list[str] = []
    engine = db.get_engine()

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        with db.session_scope() as s:
            book = load_town_book(s, town_code=JIFENG)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(book.villages) == 6
    # eight for the registry, four for the flow's mixed groups: none per village
    assert len(statements) <= 12, statements


def test_the_plan_names_the_points_and_people_the_flow_staffs(
    db_url: str, plan: EpidemicPlan
) -> None:
    ensure_registry("jifeng")
    res = load_town_resources("jifeng")
    with db.session_scope() as s:
        book = load_town_book(s, town_code=JIFENG)
        groups = mixed_groups(s, JIFENG)
        staffed = {lv: staffed_points(s, JIFENG, plan, lv, res) for lv in Level}
    assert book.resources == res and res.points
    for v in book.villages:
        ctx = village_plan(book, v, plan=plan, locale="zh-CN", now=ISSUED)
        flow = groups.of_village(v.code)
        assert flow is not None and flow.leader is not None and flow.town_leader is not None
        assert ctx["group"]["leader"]["code"] == flow.leader.code
        assert [m["code"] for m in ctx["group"]["members"]] == flow.codes
        assert ctx["group"]["area_leader"]["code"] == flow.town_leader.code
        assert ctx["duty"]["people"] == len(flow.codes)
        for row in ctx["duty"]["levels"]:
            ours = [p.name for p in staffed[Level(row["level"])] if p.village == v.name]
            assert row["points"] == ours, (v.name, row["level"])
        town_iv = [p.name for p in staffed[Level.IV] if p.village is None]
        assert ctx["duty"]["levels"][0]["town_points"] == town_iv == ["鸡峰镇卫生院核酸检测点"]


def test_a_point_naming_no_village_of_the_town_is_refused(db_url: str) -> None:
    ensure_registry("jifeng")
    res = TownResources(points=[Point(code="X1", name="卡点", kind="卡点", village="青石村")])
    with db.session_scope() as s, pytest.raises(SanqingError, match="X1: 青石村 is not a village"):
        load_town_book(s, town_code=JIFENG, resources=res)


def test_no_household_id_number_or_phone_is_printed(db_url: str, plan: EpidemicPlan) -> None:
    ensure_registry("jifeng")
    with db.session_scope() as s:
        book = load_town_book(s, town_code=JIFENG)
        private = [
            x
            for h in s.exec(select(Household))
            # (an address can be a hazard point's name: 八社42号自建房, an unsafe house)
            for x in (h.head_id_number, h.phone)
            if x
        ]
    assert private
    for v in book.villages:
        for locale in SUPPORTED_LOCALES:
            ctx = village_plan(book, v, plan=plan, locale=locale, now=ISSUED)
            for fmt in ("html", "txt"):
                doc = render(f"plans/village.{fmt}", locale=locale, **ctx)
                leaked = [x for x in private if x in doc]
                assert leaked == [], (v.code, locale, fmt, leaked[:3])


def test_a_village_without_a_team_in_the_database(db_url: str, plan: EpidemicPlan) -> None:
    ensure_registry("jifeng")
    with db.session_scope() as s:
        s.exec(delete(AssistanceTeam).where(AssistanceTeam.village_code == JIXIN))  # type: ignore[call-overload]
        for c in s.exec(select(Cadre).where(Cadre.village_code == JIXIN)):
            if c.role == CadreRole.FIRST_SECRETARY:
                s.delete(c)
    with db.session_scope() as s:
        book = load_town_book(s, town_code=JIFENG)
    ctx = village_plan(book, find_village(book, JIXIN), plan=plan, locale="zh-CN", now=ISSUED)
    assert ctx["group"]["teams"] == []
    assert ctx["group"]["leader"]["title"] == "鸡心村村党支部书记"


# --- sanqing plans print -------------------------------------------------------------------


def test_sanqing_plans_print_writes_each_village_by_code(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "plans"
    result = CliRunner().invoke(app, ["plans", "print", "--town", "jifeng", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with db.session_scope() as s:
        codes = sorted(v.code for v in s.exec(select(Village).where(Village.town_code == JIFENG)))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{c}.{ext}" for c in codes for ext in ("html", "txt")
    )
    html = (out / f"{JIXIN}.html").read_text(encoding="utf-8")
    assert "<title>鸡峰镇鸡心村疫情、汛情防控预案</title>" in html and "@media print" in html
    assert "村级防控预案 6 份" in result.output and str(out) in result.output


def test_sanqing_plans_print_one_village_in_english(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "plans"
    result = CliRunner().invoke(
        app,
        [
            "plans",
            "print",
            "--town",
            "鸡峰镇",
            "--village",
            "石门村",
            "--locale",
            "en",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["621221106202.html", "621221106202.txt"]
    text = (out / "621221106202.txt").read_text(encoding="utf-8")
    assert text.startswith("Epidemic and flood prevention plan of 石门村, 鸡峰镇")


def test_a_town_without_epidemic_yaml_still_prints(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    shutil.copytree(get_settings().config_dir, config)
    (config / "towns" / "jifeng" / "epidemic.yaml").unlink()
    monkeypatch.setenv("SANQING_CONFIG_DIR", str(config))
    get_settings.cache_clear()
    out = tmp_path / "plans"
    result = CliRunner().invoke(
        app, ["plans", "print", "--town", "jifeng", "--village", JIXIN, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = (out / f"{JIXIN}.txt").read_text(encoding="utf-8")
    assert "本村未设值守点位" in text and "镇级点位" not in text
    assert "接送疫苗接种" not in text and "\n七、应急联络\n" in text
    assert "包片领导：谢虎建" in text  # the groups come from the registry, not the file


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--town", "nowhere"], "unknown town 'nowhere'"),
        (["--town", "jifeng", "--village", "石门"], "unknown village '石门' (in 鸡峰镇"),
        (["--town", "jifeng", "--locale", "fr"], "--locale must be one of"),
    ],
)
def test_sanqing_plans_print_refuses_in_one_line(
    db_url: str, tmp_path: Path, args: list[str], said: str
) -> None:
    out = tmp_path / "plans"
    result = CliRunner().invoke(app, ["plans", "print", *args, "--out", str(out)])
    assert result.exit_code == 2 and said in result.output, result.output
    assert not out.exists() or not list(out.iterdir())
