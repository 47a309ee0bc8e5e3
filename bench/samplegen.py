"""Deterministic synthetic registries: the jifeng sample town and county-sized benchmarks.

Every name, phone and ID number here is invented (the ID numbers only have a valid
check digit); the registry is illustrative. The same seed always gives the same
bytes, because everything is drawn from one ``random.Random`` per town in a fixed
order and written with fixed formatting.

``python -m bench.samplegen`` regenerates ``config/towns/jifeng`` from its
``villages.csv`` (which it reads and never rewrites); ``--county DIR`` writes a
county-sized registry for the benchmark instead.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from sanqing.models import CadreRole, HazardKind, RiskLevel, Zone

DEFAULT_SEED = 20200817
#: The code prefix of 成县 (Cheng county, Longnan, Gansu): ID numbers and town codes.
COUNTY_CODE = "621221"
COUNTY_NAME = "成县"
FIRST_COUNTY_TOWN_CODE = 621221101
#: Households of a village live within this distance of the village point.
HOUSEHOLD_SPREAD_KM = 1.5
#: Share of households threatened by some hazard point (drawn per town in this range).
THREATENED_SHARE = (0.22, 0.27)
#: Town shelter capacity as a share of the people in any hazard zone: close, slightly short.
SHELTER_COVER = (0.92, 0.98)
JIFENG_HAZARD_POINTS = 45
REFERENCE_YEAR = 2024

JIFENG = {
    "code": "621221106",
    "key": "jifeng",
    "name": "鸡峰镇",
    "county_code": COUNTY_CODE,
    "county": COUNTY_NAME,
    "office": "鸡峰镇人民政府",
}

# --- vocabularies -------------------------------------------------------------------------

# Common surnames of Longnan / Gansu with rough weights.
SURNAMES = (
    ("王", 10), ("李", 9), ("张", 8), ("刘", 6), ("杨", 7), ("陈", 5), ("赵", 5), ("马", 4),
    ("何", 3), ("苟", 3), ("罗", 3), ("吴", 3), ("魏", 3), ("焦", 2), ("郭", 3), ("杜", 2),
    ("蒲", 2), ("任", 2), ("雷", 2), ("姚", 2), ("田", 2), ("冯", 2), ("朱", 2), ("宋", 2),
    ("谢", 2), ("高", 2), ("袁", 2), ("邓", 2), ("徐", 2), ("石", 2), ("汪", 2), ("董", 1),
    ("唐", 1), ("付", 1), ("韩", 1), ("党", 1), ("尚", 1), ("贾", 1),
)  # fmt: skip
MALE_CHARS = "建国明军强平林文华志永海福学荣生德宝成忠虎刚亮斌涛鹏伟杰俊东兴发贵有万金喜顺旺云春"
FEMALE_CHARS = "秀兰英芳霞梅琴玲娟丽珍凤花莲桂翠娥艳燕红春菊萍玉香丹"
#: Villages in Longnan are split into 社 (村民小组), each with a 社长.
GROUP_NAMES = ("一社", "二社", "三社", "四社", "五社", "六社", "七社", "八社")
#: Share of households whose 避险明白卡 was handed out before the flood season.
CARD_ISSUED_SHARE = 0.95
CN_NUM = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十")
MOBILE_PREFIXES = tuple(
    [f"13{d}" for d in range(10)] + [f"15{d}" for d in "01235789"] + [f"18{d}" for d in range(10)]
)
HOUSE_BY_RATING = {
    "A": (("框架", 3), ("砖混", 6), ("砖木", 1)),
    "B": (("砖混", 5), ("砖木", 4), ("土木", 1)),
    "C": (("砖木", 4), ("土木", 5), ("砖混", 1)),
    "D": (("土木", 8), ("砖木", 2)),
}
RATINGS = (("A", 35), ("B", 45), ("C", 15), ("D", 5))
#: Household sizes 1–7 (mean about 3.8, as in the rural ledgers of the area).
MEMBER_WEIGHTS = (8, 15, 20, 24, 18, 10, 5)
FLAG_SHARES = {
    "five_guarantee": 0.015,
    "elderly_alone": 0.06,
    "left_behind_children": 0.08,
    "hardship": 0.07,
    "mobility_impaired": 0.04,
}
VILLAGE_CADRE_TITLES = ("村党支部书记", "村委会主任", "村文书", "村监委会主任", "村妇联主席")
TOWN_LEADER_TITLES = (
    "镇党委副书记、镇长",
    "镇应急管理办公室主任",
    "镇党委委员、副镇长（包片领导）",
    "镇人大主席（包片领导）",
)
SENDING_UNITS = (
    "成县农业农村局", "成县自然资源局", "成县水务局", "成县交通运输局", "成县卫生健康局",
    "成县教育局", "成县住房和城乡建设局", "成县民政局", "成县财政局", "成县林业和草原局",
    "国网成县供电公司", "成县人力资源和社会保障局", "成县市场监督管理局", "成县文体广电和旅游局",
)  # fmt: skip
WARNING_SIGNALS = ("鸣锣", "吹哨", "广播", "手摇报警器")
HIGHWAYS = ("成康公路", "成徽公路", "成武公路", "成西公路", "成宋公路", "成黄公路", "成纸公路")
GULLIES = ("大沟", "阴坡沟", "杨家沟", "石板沟", "黑沟", "干沟", "柳树沟", "麻地沟", "核桃沟")
SLOPES = ("后山", "阳山", "庙梁", "大湾", "梁顶", "磨石坡", "松树梁", "红土坡", "垭口")
RIVERS = ("南河", "东河", "青泥河", "西河")
MACHINES = (
    ("挖掘机", "卡特320GC挖掘机"),
    ("装载机", "柳工CLG856H装载机"),
    ("自卸车", "陕汽德龙自卸车"),
    ("挖掘机", "三一SY215C挖掘机"),
    ("装载机", "临工L956F装载机"),
)
#: What the description says about each kind of hazard point, after its size.
HAZARD_SIGNS = {
    HazardKind.LANDSLIDE: "前缘可见裂缝，雨季局部滑塌",
    HazardKind.COLLAPSE: "危岩体松动、节理发育，雨后易掉块",
    HazardKind.DEBRIS_FLOW: "沟内松散物源丰富，强降雨时易发泥石流",
    HazardKind.ROCKFALL_ROAD: "岩体破碎，强降雨时易发落石、塌方，阻断交通",
    HazardKind.WATERLOGGING_ROAD: "路段低洼，排水涵洞过水能力不足",
    HazardKind.RIVER_CHANNEL: "河道弯曲狭窄，洪水时易冲刷漫溢",
    HazardKind.UNSAFE_HOUSE: "墙体开裂、屋面漏雨，强降雨时有倒塌风险",
}
#: Per hazard kind: how many households it threatens before scaling, and its risk weights.
HAZARD_REACH = {
    HazardKind.LANDSLIDE: (6, 22),
    HazardKind.COLLAPSE: (2, 8),
    HazardKind.DEBRIS_FLOW: (8, 26),
    HazardKind.ROCKFALL_ROAD: (0, 3),
    HazardKind.WATERLOGGING_ROAD: (0, 4),
    HazardKind.RIVER_CHANNEL: (5, 18),
}
KIND_WEIGHTS = {
    HazardKind.LANDSLIDE: 22,
    HazardKind.COLLAPSE: 14,
    HazardKind.DEBRIS_FLOW: 10,
    HazardKind.ROCKFALL_ROAD: 12,
    HazardKind.WATERLOGGING_ROAD: 10,
    HazardKind.RIVER_CHANNEL: 14,
    HazardKind.UNSAFE_HOUSE: 14,
}
RISK_WEIGHTS = (
    (RiskLevel.LOW, 25), (RiskLevel.MEDIUM, 40), (RiskLevel.HIGH, 25), (RiskLevel.VERY_HIGH, 10),
)  # fmt: skip
DANGER_SHARE = {
    RiskLevel.LOW: 0.25,
    RiskLevel.MEDIUM: 0.35,
    RiskLevel.HIGH: 0.5,
    RiskLevel.VERY_HIGH: 0.6,
}

# Columns of the files of a town directory (the loader's contract, see sanqing.registry).
COLUMNS = {
    "teams.csv": ("code", "village_code", "name", "sent_by"),
    "cadres.csv": ("code", "village_code", "team_code", "name", "role", "title", "phone"),
    "grids.csv": ("code", "village_code", "name", "responsible_cadre_code"),
    "households.csv": (
        "code", "village_code", "grid_code", "group_name", "head_name", "head_id_number",
        "phone", "members", "address", "lat", "lon", "house_type", "safety_rating",
        "five_guarantee", "left_behind_children", "hardship", "elderly_alone",
        "mobility_impaired", "responsible_cadre_code", "card_issued",
    ),
    "hazard_points.csv": (
        "code", "village_code", "name", "kind", "risk", "lat", "lon", "description",
        "monitor_cadre_code", "warning_signal", "evacuation_route", "road_code",
    ),
    "hazard_threats.csv": ("hazard_code", "household_code", "zone"),
    "roads.csv": ("code", "village_code", "road_name", "name", "road_class", "lat", "lon"),
    "shelters.csv": (
        "code", "village_code", "name", "kind", "capacity", "lat", "lon", "manager_cadre_code",
        "isolation_places",
    ),
    "machinery.csv": ("code", "kind", "name", "operator_name", "operator_phone", "lat", "lon"),
}  # fmt: skip
COUNTY_VILLAGE_COLUMNS = ("code", "name", "lat", "lon", "households", "population")


# --- specs and results --------------------------------------------------------------------


@dataclass(frozen=True)
class TownSpec:
    """What a town is: its metadata (town.yaml) and villages with their target sizes."""

    code: str
    key: str
    name: str
    county_code: str
    county: str
    office: str
    duty_phone: str
    villages: tuple[VillageSpec, ...]
    hazard_points: int
    highway: str
    highway_villages: tuple[str, ...]  # village names the county road passes
    highway_km: int  # stake of the first segment in this town
    landmark_landslide: tuple[str, str] | None = None  # (village name, hazard name)
    #: The town's 卫生院: the 救护单位 on the cards, not a shelter.
    medical_unit: str = ""

    @property
    def lat(self) -> float:
        return round(sum(v.lat for v in self.villages) / len(self.villages), 4)

    @property
    def lon(self) -> float:
        return round(sum(v.lon for v in self.villages) / len(self.villages), 4)

    def meta(self, medical_unit_phone: str = "") -> dict[str, Any]:
        return {
            "code": self.code,
            "key": self.key,
            "name": self.name,
            "county_code": self.county_code,
            "county": self.county,
            "office": self.office,
            "duty_phone": self.duty_phone,
            "medical_unit": self.medical_unit or f"{self.name}卫生院",
            "medical_unit_phone": medical_unit_phone,
            "lat": self.lat,
            "lon": self.lon,
        }


@dataclass(frozen=True)
class VillageSpec:
    code: str
    name: str
    lat: float
    lon: float
    households: int
    population: int


@dataclass
class TownRegistry:
    """The generated rows of a town, file name → rows in column order."""

    spec: TownSpec
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    medical_unit_phone: str = ""


@dataclass
class _Village:
    spec: VillageSpec
    groups: list[str]
    group_centres: list[tuple[float, float]]
    cadres: list[dict[str, Any]] = field(default_factory=list)
    team_cadres: list[dict[str, Any]] = field(default_factory=list)
    group_leaders: dict[str, dict[str, Any]] = field(default_factory=dict)
    grid_of_group: dict[str, str] = field(default_factory=dict)
    households: list[dict[str, Any]] = field(default_factory=list)
    roads: list[dict[str, Any]] = field(default_factory=list)
    shelters: list[dict[str, Any]] = field(default_factory=list)
    grid_members: list[dict[str, Any]] = field(default_factory=list)
    boost: list[str] = field(default_factory=list)  # the village's common surnames

    @property
    def short(self) -> str:
        return self.spec.name.removesuffix("村")


# --- small generators ---------------------------------------------------------------------


class _Faker:
    """Synthetic names, phones and ID numbers drawn from one seeded ``Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._surnames = [s for s, _ in SURNAMES]
        self._surname_weights = [float(w) for _, w in SURNAMES]

    def surname(self, boost: Sequence[str] = ()) -> str:
        if boost and self.rng.random() < 0.45:
            return self.rng.choice(list(boost))
        return self.rng.choices(self._surnames, self._surname_weights)[0]

    def name(self, *, male: bool, boost: Sequence[str] = ()) -> str:
        chars = MALE_CHARS if male else FEMALE_CHARS
        given = self.rng.choice(chars)
        if self.rng.random() < 0.8:
            given += self.rng.choice(chars)
        return self.surname(boost) + given

    def mobile(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def id_number(self, *, age: int, male: bool) -> str:
        year = REFERENCE_YEAR - age
        month = self.rng.randint(1, 12)
        day = self.rng.randint(1, 28)
        seq = self.rng.randrange(50) * 2 + (1 if male else 0) + 100 * self.rng.randrange(10)
        body = f"{COUNTY_CODE}{year:04d}{month:02d}{day:02d}{seq:03d}"
        return body + id_check_digit(body)


def id_check_digit(body: str) -> str:
    """Return the GB 11643 check digit of the first 17 digits of an ID number."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(body, weights, strict=True))
    return "10X98765432"[total % 11]


def _offset(lat: float, lon: float, km_north: float, km_east: float) -> tuple[float, float]:
    return (
        lat + km_north / 111.0,
        lon + km_east / (111.0 * math.cos(math.radians(lat))),
    )


def _dist2(a: dict[str, Any], lat: float, lon: float) -> float:
    dy = float(a["lat"]) - lat
    dx = (float(a["lon"]) - lon) * 0.83  # cos(34°): good enough to rank neighbours
    return dx * dx + dy * dy


def _bearing_word(lat0: float, lon0: float, lat1: float, lon1: float) -> str:
    angle = math.degrees(math.atan2(lat1 - lat0, (lon1 - lon0) * 0.83)) % 360
    words = ("东", "东北", "北", "西北", "西", "西南", "南", "东南")
    return words[int(((angle + 22.5) % 360) // 45)]


def _pick(rng: random.Random, weighted: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([v for v, _ in weighted], [float(w) for _, w in weighted])[0]


# --- the core: one town -------------------------------------------------------------------


def build_town(spec: TownSpec, rng: random.Random) -> TownRegistry:
    """Generate every row of a town's registry from its spec, drawing only from ``rng``."""
    fake = _Faker(rng)
    villages = [_layout_village(v, rng) for v in spec.villages]
    reg = TownRegistry(spec=spec, rows={name: [] for name in COLUMNS})
    _people(spec, villages, rng, fake, reg)
    for village in villages:
        _households(village, rng, fake)
        _roads(spec, village, villages, rng)
        _shelter_sites(spec, village, villages, rng)
    hazards, threats = _hazards(spec, villages, rng)
    _shelter_capacities(villages, hazards, threats, rng)
    for village in villages:
        reg.rows["grids.csv"].extend(_grids(village))
        reg.rows["households.csv"].extend(village.households)
        reg.rows["roads.csv"].extend(village.roads)
        reg.rows["shelters.csv"].extend(village.shelters)
    reg.rows["hazard_points.csv"] = hazards
    reg.rows["hazard_threats.csv"] = threats
    reg.rows["machinery.csv"] = _machinery(spec, rng, fake)
    # Drawn last, so the rows above stay what they were before these columns existed.
    reg.medical_unit_phone = f"0939-32{rng.randrange(10**5):05d}"
    for village in villages:
        for h in village.households:
            h["card_issued"] = int(rng.random() < CARD_ISSUED_SHARE)
    return reg


def _layout_village(spec: VillageSpec, rng: random.Random) -> _Village:
    n_groups = max(3, min(len(GROUP_NAMES), round(spec.households / 32)))
    groups = list(GROUP_NAMES[:n_groups])
    start = rng.uniform(0, 2 * math.pi)
    centres = []
    for i in range(n_groups):
        angle = start + 2 * math.pi * i / n_groups + rng.uniform(-0.3, 0.3)
        radius = rng.uniform(0.3, 1.0)
        centres.append(
            _offset(spec.lat, spec.lon, radius * math.sin(angle), radius * math.cos(angle))
        )
    return _Village(spec=spec, groups=groups, group_centres=centres)


def _cadre(
    code: str,
    village_code: str,
    team_code: str,
    name: str,
    role: CadreRole,
    title: str,
    phone: str,
) -> dict[str, Any]:
    return {
        "code": code,
        "village_code": village_code,
        "team_code": team_code,
        "name": name,
        "role": role.value,
        "title": title,
        "phone": phone,
    }


def _people(
    spec: TownSpec,
    villages: list[_Village],
    rng: random.Random,
    fake: _Faker,
    reg: TownRegistry,
) -> None:
    """Town leaders, assistance teams, village cadres, group leaders and grid members."""
    cadres = reg.rows["cadres.csv"]
    for i, title in enumerate(TOWN_LEADER_TITLES[: rng.randint(3, 4)], start=1):
        cadres.append(
            _cadre(
                f"{spec.code}-C{i:02d}",
                "",
                "",
                fake.name(male=rng.random() < 0.75),
                CadreRole.TOWN_LEADER,
                title,
                fake.mobile(),
            )
        )
    # One assistance team per village; half as many extra team members as villages.
    with_member = set(rng.sample(range(len(villages)), len(villages) // 2))
    units = list(SENDING_UNITS)
    rng.shuffle(units)
    for i, village in enumerate(villages):
        v = village.spec
        unit = units[i % len(units)]
        team_code = f"{v.code}-D1"
        reg.rows["teams.csv"].append(
            {
                "code": team_code,
                "village_code": v.code,
                "name": f"{unit}驻{v.name}帮扶工作队",
                "sent_by": unit,
            }
        )
        seq = 0

        def next_code(village_code: str = v.code) -> str:
            nonlocal seq
            seq += 1
            return f"{village_code}-C{seq:02d}"

        village.team_cadres.append(
            _cadre(
                next_code(),
                v.code,
                team_code,
                fake.name(male=rng.random() < 0.7),
                CadreRole.FIRST_SECRETARY,
                f"{unit}派驻{v.name}第一书记",
                fake.mobile(),
            )
        )
        if i in with_member:
            village.team_cadres.append(
                _cadre(
                    next_code(),
                    v.code,
                    team_code,
                    fake.name(male=rng.random() < 0.6),
                    CadreRole.TEAM_MEMBER,
                    f"{unit}驻{v.name}工作队员",
                    fake.mobile(),
                )
            )
        boost = village.boost = rng.sample([s for s, _ in SURNAMES[:20]], 3)
        for title in VILLAGE_CADRE_TITLES[: rng.randint(3, 5)]:
            village.cadres.append(
                _cadre(
                    next_code(),
                    v.code,
                    "",
                    fake.name(male=title != "村妇联主席" and rng.random() < 0.9, boost=boost),
                    CadreRole.VILLAGE_CADRE,
                    f"{v.name}{title}",
                    fake.mobile(),
                )
            )
        for group in village.groups:
            leader = _cadre(
                next_code(),
                v.code,
                "",
                fake.name(male=rng.random() < 0.85, boost=boost),
                CadreRole.GROUP_LEADER,
                f"{v.name}{group}社长",
                fake.mobile(),
            )
            village.group_leaders[group] = leader
        n_grids = 2 if len(village.groups) <= 4 else 3 if len(village.groups) <= 6 else 4
        per_grid = math.ceil(len(village.groups) / n_grids)
        grid_members = village.grid_members
        for g in range(n_grids):
            grid_code = f"{v.code}-G{g + 1}"
            for group in village.groups[g * per_grid : (g + 1) * per_grid]:
                village.grid_of_group[group] = grid_code
            grid_members.append(
                _cadre(
                    next_code(),
                    v.code,
                    "",
                    fake.name(male=rng.random() < 0.5, boost=boost),
                    CadreRole.GRID_MEMBER,
                    f"{v.name}第{CN_NUM[g]}网格网格员",
                    fake.mobile(),
                )
            )
        cadres.extend(village.team_cadres)
        cadres.extend(village.cadres)
        cadres.extend(village.group_leaders.values())
        cadres.extend(grid_members)


def _grids(village: _Village) -> list[dict[str, Any]]:
    rows = []
    for i, member in enumerate(village.grid_members):
        groups = [g for g, code in village.grid_of_group.items() if code.endswith(f"-G{i + 1}")]
        rows.append(
            {
                "code": f"{village.spec.code}-G{i + 1}",
                "village_code": village.spec.code,
                "name": f"{village.spec.name}第{CN_NUM[i]}网格（{groups[0]}—{groups[-1]}）",
                "responsible_cadre_code": member["code"],
            }
        )
    return rows


def _household_sizes(
    rng: random.Random, flags: list[dict[str, bool]], population: int
) -> list[int]:
    """Draw household sizes 1–7, then nudge free households until the total is ``population``."""
    sizes, lows, highs = [], [], []
    for f in flags:
        if f["five_guarantee"] or f["elderly_alone"]:
            lo, hi = 1, 2
            size = 1 if rng.random() < 0.7 else 2
        else:
            lo = 3 if f["left_behind_children"] else 1
            hi = 7
            size = max(lo, rng.choices(range(1, 8), MEMBER_WEIGHTS)[0])
        sizes.append(size)
        lows.append(lo)
        highs.append(hi)
    diff = population - sum(sizes)
    free = [i for i, f in enumerate(flags) if not (f["five_guarantee"] or f["elderly_alone"])]
    guard = 20 * len(sizes) + abs(diff)
    while diff and free and guard:
        guard -= 1
        i = rng.choice(free)
        if diff > 0 and sizes[i] < highs[i]:
            sizes[i] += 1
            diff -= 1
        elif diff < 0 and sizes[i] > lows[i]:
            sizes[i] -= 1
            diff += 1
    return sizes


def _households(village: _Village, rng: random.Random, fake: _Faker) -> None:
    v = village.spec
    flags = []
    for _ in range(v.households):
        f = {k: rng.random() < share for k, share in FLAG_SHARES.items()}
        if f["five_guarantee"] or f["elderly_alone"]:
            f["left_behind_children"] = False
        flags.append(f)
    sizes = _household_sizes(rng, flags, v.population)
    # Groups are of unequal size; households are numbered within their group.
    group_weights = [rng.uniform(0.7, 1.3) for _ in village.groups]
    numbers = dict.fromkeys(village.groups, 0)
    # Cadres with the households they answer for (包保): loads are deliberately unequal.
    staff = village.team_cadres + village.cadres
    staff_weights = [rng.choice((1.0, 1.5, 2.0, 3.0)) for _ in staff]
    boost = village.boost
    for n, (f, members) in enumerate(zip(flags, sizes, strict=True), start=1):
        gi = rng.choices(range(len(village.groups)), group_weights)[0]
        group = village.groups[gi]
        numbers[group] += 1
        clat, clon = village.group_centres[gi]
        lat, lon = _scatter(rng, v, clat, clon)
        if f["five_guarantee"]:
            age, male = rng.randint(62, 88), rng.random() < 0.7
        elif f["elderly_alone"]:
            age, male = rng.randint(68, 90), rng.random() < 0.45
        elif f["left_behind_children"]:
            age, male = rng.randint(55, 75), rng.random() < 0.6
        else:
            age, male = rng.randint(28, 82), rng.random() < 0.82
        rating = _pick(rng, RATINGS)
        if f["five_guarantee"] or f["elderly_alone"] or f["hardship"]:
            rating = _pick(rng, (("A", 15), ("B", 40), ("C", 30), ("D", 15)))
        no_phone = (f["elderly_alone"] or f["five_guarantee"]) and rng.random() < 0.25
        if rng.random() < 0.45:
            responsible = village.group_leaders[group]
        else:
            responsible = rng.choices(staff, staff_weights)[0]
        village.households.append(
            {
                "code": f"{v.code}-H{n:04d}",
                "village_code": v.code,
                "grid_code": village.grid_of_group[group],
                "group_name": group,
                "head_name": fake.name(male=male, boost=boost),
                "head_id_number": fake.id_number(age=age, male=male),
                "phone": "" if no_phone else fake.mobile(),
                "members": members,
                "address": f"{v.name}{group}{numbers[group]}号",
                "lat": lat,
                "lon": lon,
                "house_type": _pick(rng, HOUSE_BY_RATING[rating]),
                "safety_rating": rating,
                **{k: int(flag) for k, flag in f.items()},
                "responsible_cadre_code": responsible["code"],
                "card_issued": 1,
            }
        )
    # Column order of the file, flags included.
    order = COLUMNS["households.csv"]
    village.households = [{k: h[k] for k in order} for h in village.households]


def _scatter(rng: random.Random, v: VillageSpec, clat: float, clon: float) -> tuple[float, float]:
    for _ in range(10):
        lat, lon = _offset(clat, clon, rng.gauss(0, 0.18), rng.gauss(0, 0.18))
        if _dist2({"lat": lat, "lon": lon}, v.lat, v.lon) <= (HOUSEHOLD_SPREAD_KM / 111.0) ** 2:
            return lat, lon
    return clat, clon


def _roads(spec: TownSpec, village: _Village, villages: list[_Village], rng: random.Random) -> None:
    v = village.spec
    seq = 0
    if v.name in spec.highway_villages:
        # The county road runs through the highway villages in order, 500 m per segment.
        before = 2 * sum(
            1 for w in villages[: villages.index(village)] if w.spec.name in spec.highway_villages
        )
        for s in range(2):
            seq += 1
            metres = spec.highway_km * 1000 + (before + s) * 500 + 100
            stake = f"{_stake(metres)}—{_stake(metres + 500)}"
            lat, lon = _offset(v.lat, v.lon, rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6))
            village.roads.append(
                {
                    "code": f"{v.code}-R{seq}",
                    "village_code": v.code,
                    "road_name": spec.highway,
                    "name": f"{spec.highway}{village.short}段 {stake}",
                    "road_class": "县道",
                    "lat": lat,
                    "lon": lon,
                }
            )
    for _ in range(rng.randint(1, 2)):
        seq += 1
        first, last = sorted(rng.sample(range(len(village.groups)), 2))
        lat, lon = _offset(v.lat, v.lon, rng.uniform(-0.8, 0.8), rng.uniform(-0.8, 0.8))
        road_name = f"{v.name}村道"
        village.roads.append(
            {
                "code": f"{v.code}-R{seq}",
                "village_code": v.code,
                "road_name": road_name,
                "name": f"{road_name}（{village.groups[first]}—{village.groups[last]}）",
                "road_class": "村道",
                "lat": lat,
                "lon": lon,
            }
        )


def _stake(metres: int) -> str:
    """A chainage stake as on the road's kilometre posts: K23+100."""
    return f"K{metres // 1000}+{metres % 1000:03d}"


def _shelter_sites(
    spec: TownSpec, village: _Village, villages: list[_Village], rng: random.Random
) -> None:
    """Places of refuge; their capacities are set once the threats are known."""
    v = village.spec
    count = 1 if v.households < 180 else 2 if v.households < 260 else 3
    count = max(1, min(3, count + rng.choice((-1, 0, 0, 1))))
    seat = min(
        villages, key=lambda w: _dist2({"lat": w.spec.lat, "lon": w.spec.lon}, spec.lat, spec.lon)
    )
    sites = [
        ("村委会", f"{v.name}村委会活动室"),
        ("学校", f"{v.name}小学操场"),
        ("文化广场", f"{v.name}文化广场"),
    ]
    if village is seat:
        # The town's 卫生院 is its 救护单位 (town.yaml), never a shelter: it treats the hurt.
        sites = [("学校", f"{spec.name}中心小学"), *sites]
    managers = village.cadres[1:] + village.cadres[:1] + village.team_cadres
    for i, (kind, name) in enumerate(sites[: count + (1 if village is seat else 0)]):
        lat, lon = _offset(v.lat, v.lon, rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5))
        village.shelters.append(
            {
                "code": f"{v.code}-S{i + 1}",
                "village_code": v.code,
                "name": name,
                "kind": kind,
                "capacity": 0,
                "lat": lat,
                "lon": lon,
                "manager_cadre_code": managers[i % len(managers)]["code"],
                "isolation_places": 0,  # drawn later, from an rng of its own
            }
        )


def _hazard_plan(
    spec: TownSpec, villages: list[_Village], rng: random.Random
) -> list[tuple[Any, ...]]:
    """Decide (kind, village, road, risk, name) of every hazard point of the town."""
    by_name = {w.spec.name: w for w in villages}
    plan: list[tuple[Any, ...]] = []
    if spec.landmark_landslide:
        vname, hname = spec.landmark_landslide
        plan.append((HazardKind.LANDSLIDE, by_name[vname], None, RiskLevel.VERY_HIGH, hname))
    for w in villages:
        if w.spec.name in spec.highway_villages:
            road = w.roads[0]
            plan.append((HazardKind.ROCKFALL_ROAD, w, road, RiskLevel.HIGH, None))
    present = {p[0] for p in plan}
    for kind in HazardKind:
        if kind not in present:
            plan.append((kind, None, None, None, None))
    kinds = list(KIND_WEIGHTS)
    weights = [float(KIND_WEIGHTS[k]) for k in kinds]
    while len(plan) < spec.hazard_points:
        plan.append((rng.choices(kinds, weights)[0], None, None, None, None))
    household_weights = [float(w.spec.households) for w in villages]
    used_roads = {(p[0], p[2]["code"]) for p in plan if p[2] is not None}
    done = []
    for kind, village, road, risk, name in plan:
        if village is None:
            if kind in (HazardKind.ROCKFALL_ROAD, HazardKind.WATERLOGGING_ROAD):
                roads = [r for w in villages for r in w.roads]
                if kind is HazardKind.ROCKFALL_ROAD:
                    roads = [r for r in roads if r["road_class"] == "县道"] or roads
                # A road segment has at most one point of each kind while there are others.
                roads = [r for r in roads if (kind, r["code"]) not in used_roads] or roads
                road = rng.choice(roads)
                used_roads.add((kind, road["code"]))
                village = next(w for w in villages if w.spec.code == road["village_code"])
            else:
                village = rng.choices(villages, household_weights)[0]
        if risk is None:
            risk = _pick(rng, RISK_WEIGHTS)
            if kind in (HazardKind.ROCKFALL_ROAD, HazardKind.WATERLOGGING_ROAD):
                risk = rng.choice((RiskLevel.MEDIUM, RiskLevel.HIGH))
        done.append((kind, village, road, risk, name))
    return done


def _hazards(
    spec: TownSpec, villages: list[_Village], rng: random.Random
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    plan = _hazard_plan(spec, villages, rng)
    total_households = sum(len(w.households) for w in villages)
    target = rng.uniform(*THREATENED_SHARE) * total_households
    houses = sum(1 for p in plan if p[0] is HazardKind.UNSAFE_HOUSE)
    reach = [
        rng.randint(*HAZARD_REACH[p[0]]) if p[0] is not HazardKind.UNSAFE_HOUSE else 1 for p in plan
    ]
    landmark = 1 if spec.landmark_landslide else 0
    scalable = sum(
        r
        for p, r in zip(plan[landmark:], reach[landmark:], strict=True)
        if p[0] is not HazardKind.UNSAFE_HOUSE
    )
    fixed = houses + (28 if landmark else 0)
    scale = max(0.2, (target - fixed) / max(1, scalable))
    threatened: set[str] = set()
    names: set[str] = set()
    hazards: list[dict[str, Any]] = []
    threats: list[dict[str, Any]] = []
    seq: dict[str, int] = {}
    for i, ((kind, village, road, risk, name), base) in enumerate(zip(plan, reach, strict=True)):
        v = village.spec
        seq[v.code] = seq.get(v.code, 0) + 1
        code = f"{v.code}-Z{seq[v.code]:03d}"
        gi = rng.randrange(len(village.groups))
        group = village.groups[gi]
        if kind is HazardKind.UNSAFE_HOUSE:
            pool = [
                h
                for h in village.households
                if h["safety_rating"] in ("C", "D") and h["code"] not in threatened
            ]
            home = rng.choice(pool or village.households)
            lat, lon = home["lat"], home["lon"]
            risk = RiskLevel.HIGH if home["safety_rating"] == "D" else RiskLevel.MEDIUM
            if home["safety_rating"] == "D" and rng.random() < 0.3:
                risk = RiskLevel.VERY_HIGH
            victims = [(home, Zone.DANGER)]
            group = home["group_name"]
            name = f"{home['address']}自建房（{home['safety_rating']}级危房）"
            monitor = home["responsible_cadre_code"]
        else:
            if road is not None:
                lat, lon = road["lat"], road["lon"]
            else:
                clat, clon = village.group_centres[gi]
                lat, lon = _offset(clat, clon, rng.uniform(-0.35, 0.35), rng.uniform(-0.35, 0.35))
            n = 28 if (i == 0 and landmark) else round(base * scale)
            victims = _nearest(village, lat, lon, n, risk, threatened, rng)
            name = name or _hazard_name(kind, village, group, road, rng)
            for _ in range(4):
                if name not in names:
                    break
                name = _hazard_name(kind, village, group, road, rng)
            base_name, k = name, 2
            while name in names:
                name, k = f"{base_name}（{CN_NUM[k - 1]}号点）", k + 1
            monitor = _monitor(kind, village, group, rng)["code"]
        names.add(name)
        for home, zone in victims:
            threatened.add(home["code"])
            threats.append(
                {"hazard_code": code, "household_code": home["code"], "zone": zone.value}
            )
        shelter = min(village.shelters, key=lambda s: _dist2(s, lat, lon))
        way = "沿" + (road["road_name"] if road is not None else "村道")
        route = (
            f"{way}向{_bearing_word(lat, lon, shelter['lat'], shelter['lon'])}撤至{shelter['name']}"
        )
        people = sum(h["members"] for h, _ in victims)
        hazards.append(
            {
                "code": code,
                "village_code": v.code,
                "name": name,
                "kind": kind.value,
                "risk": risk.value,
                "lat": lat,
                "lon": lon,
                "description": _describe(
                    kind, rng, len(victims), people, bool(i == 0 and landmark)
                ),
                "monitor_cadre_code": monitor,
                "warning_signal": rng.choice(WARNING_SIGNALS),
                "evacuation_route": route,
                "road_code": road["code"] if road is not None else "",
            }
        )
    order = {w.spec.code: i for i, w in enumerate(villages)}
    hazards.sort(key=lambda h: (order[h["village_code"]], h["code"]))
    return hazards, threats


def _nearest(
    village: _Village,
    lat: float,
    lon: float,
    n: int,
    risk: RiskLevel,
    threatened: set[str],
    rng: random.Random,
) -> list[tuple[dict[str, Any], Zone]]:
    """The ``n`` nearest households, mostly ones no other hazard threatens yet."""
    if n <= 0:
        return []
    ranked = sorted(village.households, key=lambda h: _dist2(h, lat, lon))
    chosen: list[dict[str, Any]] = []
    for h in ranked:
        if h["code"] not in threatened or rng.random() < 0.06:
            chosen.append(h)
            if len(chosen) >= n:
                break
    danger = max(1, round(len(chosen) * DANGER_SHARE[risk]))
    return [(h, Zone.DANGER if k < danger else Zone.ALERT) for k, h in enumerate(chosen)]


def _monitor(kind: HazardKind, village: _Village, group: str, rng: random.Random) -> dict[str, Any]:
    if kind in (HazardKind.ROCKFALL_ROAD, HazardKind.WATERLOGGING_ROAD):
        return rng.choice(village.cadres)
    if kind is HazardKind.RIVER_CHANNEL:
        return rng.choice(village.grid_members)
    if rng.random() < 0.6:
        return village.group_leaders[group]
    return rng.choice(village.cadres + village.team_cadres)


def _hazard_name(
    kind: HazardKind, village: _Village, group: str, road: dict[str, Any] | None, rng: random.Random
) -> str:
    short = village.short
    if kind is HazardKind.LANDSLIDE:
        return f"{short}{group}{rng.choice(SLOPES)}滑坡"
    if kind is HazardKind.COLLAPSE:
        return f"{short}{group}{rng.choice(SLOPES)}崩塌"
    if kind is HazardKind.DEBRIS_FLOW:
        return f"{short}{rng.choice(GULLIES)}泥石流"
    if kind is HazardKind.RIVER_CHANNEL:
        river = RIVERS[int(village.spec.code) % len(RIVERS)]
        return rng.choice(
            (
                f"{river}{short}段河道",
                f"{river}{short}段河堤",
                f"{short}{rng.choice(GULLIES)}排洪渠",
            )
        )
    assert road is not None
    if kind is HazardKind.ROCKFALL_ROAD:
        return f"{road['name']}落石路段"
    return f"{road['name']}易积水路段"


def _describe(
    kind: HazardKind, rng: random.Random, households: int, people: int, landmark: bool
) -> str:
    threat = f"威胁{households}户{people}人" if households else "威胁过往车辆和行人"
    if landmark:
        return (
            f"石门洞北侧斜坡，滑坡体长约{rng.randint(240, 300)}米、宽约{rng.randint(160, 200)}米，"
            f"后缘拉张裂缝逐年扩展，前缘坡脚渗水；{threat}。"
        )
    size = {
        HazardKind.LANDSLIDE: f"滑坡体长约{rng.randint(40, 180)}米、宽约{rng.randint(30, 120)}米",
        HazardKind.COLLAPSE: f"陡崖高约{rng.randint(15, 60)}米",
        HazardKind.DEBRIS_FLOW: f"沟道长约{rng.randint(1, 6)}.{rng.randint(0, 9)}公里",
        HazardKind.ROCKFALL_ROAD: f"公路内侧边坡高约{rng.randint(20, 80)}米",
        HazardKind.WATERLOGGING_ROAD: f"积水深可达{rng.randint(3, 8)}0厘米",
        HazardKind.RIVER_CHANNEL: f"岸坡长约{rng.randint(2, 9)}00米未设防护",
        HazardKind.UNSAFE_HOUSE: "房屋经鉴定存在安全隐患",
    }[kind]
    return f"{size}，{HAZARD_SIGNS[kind]}；{threat}。"


def _shelter_capacities(
    villages: list[_Village],
    hazards: list[dict[str, Any]],
    threats: list[dict[str, Any]],
    rng: random.Random,
) -> None:
    """Size shelters: close to (slightly below) everyone who moves at Ⅰ, per village.

    That is everyone in any hazard zone and everyone living in a C- or D-rated house
    (practice leaves nobody in those during heavy rain).
    """
    people_of = {
        h["code"]: (h["village_code"], h["members"]) for w in villages for h in w.households
    }
    unsafe = [h["code"] for w in villages for h in w.households if h["safety_rating"] in "CD"]
    seen: set[str] = set()
    at_risk: dict[str, int] = dict.fromkeys((w.spec.code for w in villages), 0)
    for code in [t["household_code"] for t in threats] + unsafe:
        if code in seen:
            continue
        seen.add(code)
        village_code, members = people_of[code]
        at_risk[village_code] += members
    total = sum(at_risk.values())
    wanted = {code: people * rng.uniform(0.85, 1.1) + 20 for code, people in at_risk.items()}
    scale = total * rng.uniform(*SHELTER_COVER) / max(1.0, sum(wanted.values()))
    for w in villages:
        share = wanted[w.spec.code] * scale
        weights = [rng.uniform(0.6, 1.4) for _ in w.shelters]
        for s, wt in zip(w.shelters, weights, strict=True):
            s["capacity"] = max(30, round(share * wt / sum(weights) / 10.0) * 10)


#: Shelters that can keep rooms apart (隔离安置) for people under home monitoring, and how
#: many places such rooms give: classrooms and the committee's offices, never a square.
ISOLATION_KINDS = ("学校", "村委会")
ISOLATION_SHARE = 0.7
ISOLATION_PLACES = (10, 12, 15, 20)


def isolation_places(registry: TownRegistry, rng: random.Random) -> None:
    """Give some schools and 村委会 isolation places, from an rng of their own.

    Drawn after everything else (and from another rng) so that the other files stay
    what they were before the column existed.
    """
    for shelter in registry.rows["shelters.csv"]:
        if shelter["kind"] in ISOLATION_KINDS and rng.random() < ISOLATION_SHARE:
            shelter["isolation_places"] = rng.choice(ISOLATION_PLACES)


def _machinery(spec: TownSpec, rng: random.Random, fake: _Faker) -> list[dict[str, Any]]:
    rows = []
    for i, (kind, model) in enumerate(MACHINES[: rng.randint(3, 5)], start=1):
        lat, lon = _offset(spec.lat, spec.lon, rng.uniform(-1, 1), rng.uniform(-1, 1))
        rows.append(
            {
                "code": f"{spec.code}-M{i}",
                "kind": kind,
                "name": f"{model}（{spec.name}应急机械{i}号）",
                "operator_name": fake.name(male=True),
                "operator_phone": fake.mobile(),
                "lat": lat,
                "lon": lon,
            }
        )
    return rows


# --- files --------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row[c]) for c in columns])


def write_town(town_dir: Path, reg: TownRegistry, *, write_villages: bool) -> None:
    """Write a generated town as its directory of files (villages.csv only if asked)."""
    town_dir.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        reg.spec.meta(reg.medical_unit_phone), allow_unicode=True, sort_keys=False
    )
    (town_dir / "town.yaml").write_text(
        "# Synthetic sample town (names, phones and ID numbers are invented).\n" + text,
        encoding="utf-8",
    )
    if write_villages:
        rows = [
            {
                "code": v.code,
                "name": v.name,
                "lat": f"{v.lat:.4f}",
                "lon": f"{v.lon:.4f}",
                "households": v.households,
                "population": v.population,
            }
            for v in reg.spec.villages
        ]
        _write_csv(town_dir / "villages.csv", COUNTY_VILLAGE_COLUMNS, rows)
    for name, columns in COLUMNS.items():
        _write_csv(town_dir / name, columns, reg.rows[name])


def read_villages(path: Path) -> tuple[VillageSpec, ...]:
    """Read the reference villages (code, name, point, households, population)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return tuple(
            VillageSpec(
                code=r["code"].strip(),
                name=r["name"].strip(),
                lat=float(r["lat"]),
                lon=float(r["lon"]),
                households=int(r["households"]),
                population=int(r["population"]),
            )
            for r in csv.DictReader(fh)
        )


def generate_jifeng(town_dir: Path | None = None, *, seed: int = DEFAULT_SEED) -> Path:
    """Regenerate the jifeng sample registry next to its reference ``villages.csv``."""
    if town_dir is None:
        from sanqing.settings import get_settings

        town_dir = get_settings().towns_dir / "jifeng"
    rng = random.Random(seed)
    spec = TownSpec(
        **JIFENG,
        duty_phone=f"0939-32{rng.randrange(10**5):05d}",
        villages=read_villages(town_dir / "villages.csv"),
        hazard_points=JIFENG_HAZARD_POINTS,
        highway="成康公路",
        highway_villages=("鸡心村", "河坝村"),
        highway_km=23,
        landmark_landslide=("石门村", "石门洞滑坡"),
    )
    registry = build_town(spec, rng)
    isolation_places(registry, random.Random(f"isolation:{seed}"))
    write_town(town_dir, registry, write_villages=False)
    write_registrations(
        town_dir / REGISTRATIONS_FILE,
        spec,
        random.Random(f"registrations:{seed}"),
        homes=_homes(registry, random.Random(f"registrations-homes:{seed}")),
    )
    return town_dir


#: The epidemic plan's sample register of returnees and outsiders (摸排台账).
REGISTRATIONS_FILE = "registrations.csv"
REGISTRATION_COLUMNS = (
    "姓名",
    "身份证号",
    "联系电话",
    "村",
    "网格",
    "人员类别",
    "来源地区划代码",
    "离开日期",
    "到达日期",
    "户编号",
)
#: Where people come from, weighted: the sample risk areas of config/plans/epidemic.yaml
#: (420106 high, 4201 medium, 6101 low until 07-05) and places that are none.
ORIGINS = (
    ("420106", 2),
    ("420102", 3),
    ("610113", 3),
    ("620102", 6),
    ("621202", 6),
    ("440305", 4),
)


def _homes(registry: TownRegistry, rng: random.Random) -> Callable[[str], str]:
    """Where a registered person stays: a household of their village, one in four of them
    in a danger zone (so a flood during the epidemic moves people under monitoring)."""
    danger = {
        t["household_code"] for t in registry.rows["hazard_threats.csv"] if t["zone"] == "danger"
    }
    by_village: dict[str, tuple[list[str], list[str]]] = {}
    for h in registry.rows["households.csv"]:
        exposed, safe = by_village.setdefault(h["village_code"], ([], []))
        (exposed if h["code"] in danger else safe).append(h["code"])

    def home(village_code: str) -> str:
        exposed, safe = by_village.get(village_code, ([], []))
        pool = exposed if exposed and (rng.random() < 0.25 or not safe) else safe
        return rng.choice(pool) if pool else ""

    return home


def write_registrations(
    path: Path, spec: TownSpec, rng: random.Random, homes: Callable[[str], str] | None = None
) -> None:
    """A register of 60 synthetic returnees and outsiders, July 2026, over the villages."""
    fake = _Faker(rng)
    rows = []
    for _ in range(60):
        village = rng.choice(spec.villages)
        male = rng.random() < 0.55
        age = rng.randint(18, 70)
        arrived = date(2026, 7, 1) + timedelta(days=rng.randrange(20))
        left = arrived - timedelta(days=rng.choice((0, 0, 1, 2)))
        returnee = rng.random() < 0.8
        rows.append(
            {
                "姓名": fake.name(male=male),
                "身份证号": fake.id_number(age=age, male=male) if returnee else "",
                "联系电话": fake.mobile(),
                "村": village.name,
                "网格": f"{rng.randint(1, 3)}网格",
                "人员类别": "返乡人员" if returnee else "外来人员",
                "来源地区划代码": _pick(rng, ORIGINS),
                "离开日期": left.isoformat(),
                "到达日期": arrived.isoformat(),
                "户编号": homes(village.code) if homes else "",
            }
        )
    _write_csv(path, REGISTRATION_COLUMNS, rows)


_TOWN_SYLLABLES = (
    ("青", "qing"), ("石", "shi"), ("龙", "long"), ("松", "song"), ("柳", "liu"), ("杨", "yang"),
    ("河", "he"), ("峰", "feng"), ("安", "an"), ("坪", "ping"), ("川", "chuan"), ("岭", "ling"),
    ("泉", "quan"), ("沙", "sha"), ("坝", "ba"), ("梁", "liang"), ("黄", "huang"), ("红", "hong"),
    ("店", "dian"), ("庙", "miao"), ("磨", "mo"), ("桥", "qiao"), ("湾", "wan"), ("苏", "su"),
)  # fmt: skip
_VILLAGE_PATTERNS = ("{s}家沟", "{s}家坪", "{s}家湾", "{a}{b}", "{a}坪", "{a}沟", "{a}湾", "{a}坝")


def _county_town_names(rng: random.Random, n: int) -> list[tuple[str, str]]:
    names: list[tuple[str, str]] = []
    seen = {"jifeng"}
    while len(names) < n:
        (a, pa), (b, pb) = rng.sample(_TOWN_SYLLABLES, 2)
        key = pa + pb
        if key not in seen:
            seen.add(key)
            names.append((f"{a}{b}镇", key))
    return names


def _county_village_names(rng: random.Random, n: int) -> list[str]:
    names: list[str] = []
    while len(names) < n:
        pattern = rng.choice(_VILLAGE_PATTERNS)
        (a, _), (b, _) = rng.sample(_TOWN_SYLLABLES, 2)
        name = pattern.format(s=rng.choice(SURNAMES[:16])[0], a=a, b=b) + "村"
        if name not in names:
            names.append(name)
    return names


def county_specs(
    *,
    towns: int = 20,
    villages_per_town: int = 15,
    households_per_village: int = 250,
    hazard_points_per_town: int = 150,
    seed: int = DEFAULT_SEED,
) -> list[TownSpec]:
    """Specs of a synthetic county: towns on a grid over the county, villages around each."""
    rng = random.Random(f"county:{seed}")
    names = _county_town_names(rng, towns)
    side = math.ceil(math.sqrt(towns))
    specs = []
    for t in range(towns):
        code = str(FIRST_COUNTY_TOWN_CODE + t)
        tlat = 33.55 + 0.5 * (t // side) / side + rng.uniform(-0.02, 0.02)
        tlon = 105.45 + 0.6 * (t % side) / side + rng.uniform(-0.02, 0.02)
        sizes = [households_per_village * rng.uniform(0.7, 1.3) for _ in range(villages_per_town)]
        k = households_per_village * villages_per_town / sum(sizes)
        counts = [max(20, round(s * k)) for s in sizes]
        counts[-1] = max(20, households_per_village * villages_per_town - sum(counts[:-1]))
        village_names = _county_village_names(rng, villages_per_town)
        villages = []
        for i in range(villages_per_town):
            radius, angle = rng.uniform(0.5, 6.0), rng.uniform(0, 2 * math.pi)
            lat, lon = _offset(tlat, tlon, radius * math.sin(angle), radius * math.cos(angle))
            villages.append(
                VillageSpec(
                    code=f"{code}{201 + i:03d}",
                    name=village_names[i],
                    lat=round(lat, 4),
                    lon=round(lon, 4),
                    households=counts[i],
                    population=round(counts[i] * rng.uniform(3.5, 4.0)),
                )
            )
        name, key = names[t]
        n_highway = max(1, villages_per_town // 3)
        specs.append(
            TownSpec(
                code=code,
                key=key,
                name=name,
                county_code=COUNTY_CODE,
                county=COUNTY_NAME,
                office=f"{name}人民政府",
                duty_phone=f"0939-32{rng.randrange(10**5):05d}",
                villages=tuple(villages),
                hazard_points=hazard_points_per_town,
                highway=HIGHWAYS[t % len(HIGHWAYS)],
                highway_villages=tuple(v.name for v in rng.sample(villages, n_highway)),
                highway_km=rng.randint(2, 60),
            )
        )
    return specs


def generate_county(
    out_dir: Path,
    *,
    towns: int = 20,
    villages_per_town: int = 15,
    households_per_village: int = 250,
    hazard_points_per_town: int = 150,
    seed: int = DEFAULT_SEED,
) -> list[Path]:
    """Write a county-sized synthetic registry, one town directory per town; return them."""
    specs = county_specs(
        towns=towns,
        villages_per_town=villages_per_town,
        households_per_village=households_per_village,
        hazard_points_per_town=hazard_points_per_town,
        seed=seed,
    )
    dirs = []
    for spec in specs:
        town_dir = Path(out_dir) / spec.key
        registry = build_town(spec, random.Random(f"{seed}:{spec.code}"))
        isolation_places(registry, random.Random(f"isolation:{seed}:{spec.code}"))
        write_town(town_dir, registry, write_villages=True)
        dirs.append(town_dir)
    return dirs


def main(argv: Sequence[str] | None = None) -> None:
    """Regenerate config/towns/jifeng, or write a county registry with ``--county DIR``."""
    parser = argparse.ArgumentParser(prog="python -m bench.samplegen", description=main.__doc__)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--town-dir", type=Path, default=None, help="default: config/towns/jifeng")
    parser.add_argument("--county", type=Path, default=None, help="write a county here instead")
    parser.add_argument("--towns", type=int, default=20)
    parser.add_argument("--villages-per-town", type=int, default=15)
    parser.add_argument("--households-per-village", type=int, default=250)
    parser.add_argument("--hazard-points-per-town", type=int, default=150)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.county is not None:
        dirs = generate_county(
            args.county,
            towns=args.towns,
            villages_per_town=args.villages_per_town,
            households_per_village=args.households_per_village,
            hazard_points_per_town=args.hazard_points_per_town,
            seed=args.seed,
        )
        print(f"wrote {len(dirs)} towns to {args.county} in {time.perf_counter() - started:.1f} s")
    else:
        town_dir = generate_jifeng(args.town_dir, seed=args.seed)
        print(f"wrote {town_dir} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
