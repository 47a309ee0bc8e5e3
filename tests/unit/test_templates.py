"""Golden-file tests of the notice and report templates, in every locale.

Each template is rendered with the fixed contexts built below (the shapes
``sanqing.outbox.notices.issue_notices`` and ``sanqing.reporting.write_report`` pass)
and compared with ``tests/golden/<locale>/<name>``. After a deliberate template
change, rewrite the golden files, then read the diff before committing::

    SANQING_UPDATE_GOLDEN=1 pytest tests/unit/test_templates.py

The other tests pin what must hold whatever the wording: resident SMS fit in
three segments, drills are marked, HTML escapes names, reports carry no
resident's personal data, and a missing variable fails loudly.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import UndefinedError

from sanqing.errors import TemplateMissing
from sanqing.labels import label
from sanqing.outbox.contexts import warning_context
from sanqing.outbox.rendering import cn_number, render
from sanqing.outbox.sms import GSM7_BASIC, GSM7_EXTENDED, segments
from sanqing.privacy import contains_personal_data
from sanqing.settings import SUPPORTED_LOCALES, get_settings

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"
UPDATE_GOLDEN = os.environ.get("SANQING_UPDATE_GOLDEN") == "1"
#: ``sms_max_segments`` of config/plans/flood.yaml.
MAX_SMS_SEGMENTS = 3
DRILL_MARKERS = {"zh-CN": "【演练】", "en": "[DRILL]"}
#: SMS bodies carry no 【】 (the platform's signature marks): the drill is said in words.
SMS_DRILL_MARKERS = {"zh-CN": "演练信息：", "en": "Drill: "}
#: The loudspeaker says it aloud.
SPOKEN_DRILL_MARKERS = {"zh-CN": "演练广播", "en": "This is a drill."}
#: What the platform adds before every SMS (a town's default: county and office).
SIGNATURE = "【成县鸡峰镇人民政府】"
REPEATS = 3  # broadcast_repeats of config/plans/flood.yaml

NOTICES = (
    "notices/warning.sms.txt",
    "notices/relocation.sms.txt",
    "notices/group.wechat.txt",
    "notices/broadcast.loudspeaker.txt",
    "notices/tasks.txt",
    "notices/door_visit.html",
    "notices/card.html",
    "notices/work_card.html",
    "notices/escalation.sms.txt",
    "notices/escalation.txt",
    "notices/phone_call.txt",
    "notices/urgent.sms.txt",
)
REPORT_KINDS = ("initial", "follow_up", "final", "daily")
REPORTS = tuple(f"reports/{k}.{ext}" for k in REPORT_KINDS for ext in ("txt", "html"))
TEMPLATES = NOTICES + REPORTS
#: Rendered from a town's registry, golden-tested in tests/unit/test_plandoc.py.
PLANS = ("plans/village.html", "plans/village.txt")
RESIDENT_SMS = ("notices/relocation.sms.txt", "notices/warning.sms.txt")
SMS = (*RESIDENT_SMS, "notices/escalation.sms.txt", "notices/urgent.sms.txt")
HTML_WITH_HEAD_NAME = ("notices/card.html", "notices/door_visit.html", "notices/work_card.html")

SHANGHAI = ZoneInfo("Asia/Shanghai")
WARNING_SENT = datetime(2026, 7, 12, 18, 30, tzinfo=SHANGHAI)
ACTIVATED_AT = datetime(2026, 7, 12, 11, 0, tzinfo=UTC)  # 19:00 in Beijing
GENERATED_AT = datetime(2026, 7, 12, 11, 5, tzinfo=UTC)
REPORTED_AT = datetime(2026, 7, 12, 11, 48, tzinfo=UTC)
INITIAL_REPORT_WITHIN = timedelta(minutes=60)  # level III of config/plans/flood.yaml

TOWN = {
    "name": "鸡峰镇",
    "office": "鸡峰镇人民政府",
    "duty_phone": "0939-3239838",
    "county": "成县",
    "medical": {"name": "鸡峰镇卫生院", "phone": "0939-3277960"},
}
VILLAGE = {"code": "621221106201", "name": "鸡心村"}
LEVEL, LEVEL_NAME = "III", "三级应急响应"
WARNING = {
    "identifier": "62122141600000_20260712183000",
    "hazard": "rainstorm",
    "colour": "orange",
    "headline": "成县气象台发布暴雨橙色预警信号",
    "sender": "成县气象台",
    "sent": WARNING_SENT,
    "area_desc": "成县鸡峰镇、小川镇、纸坊镇",
    "village_codes": ["621221106201", "621221106202"],
}
HAZARDS = {
    "621221106201-Z005": {
        "code": "621221106201-Z005",
        "name": "鸡心村后山滑坡",
        "kind": "landslide",
        "risk": "high",
        "warning_signal": "口哨",
        "evacuation_route": "沿村道向北撤至鸡心村村委会活动室",
    },
    "621221106201-Z003": {
        "code": "621221106201-Z003",
        "name": "鸡心石板沟泥石流",
        "kind": "debris_flow",
        "risk": "medium",
        "warning_signal": "鸣锣",
        "evacuation_route": "沿村道向西南撤至鸡心村小学操场",
    },
    "621221106201-Z004": {
        "code": "621221106201-Z004",
        "name": "东河鸡心段河堤",
        "kind": "river_channel",
        "risk": "medium",
        "warning_signal": "手摇报警器",
        "evacuation_route": "沿村道向东南撤至鸡心村村委会活动室",
    },
}
SHELTER_MANAGER = {
    "code": "621221106201-C04",
    "name": "何建军",
    "phone": "13893956012",
    "title": "鸡心村村委会主任",
    "role": "village_cadre",
}
SHELTER = {
    "code": "621221106201-S2",
    "name": "鸡心村村委会活动室",
    "kind": "村委会",
    "village": "621221106201",
    "manager": SHELTER_MANAGER,
}
MONITOR = {
    "code": "621221106201-C12",
    "name": "杨志强",
    "phone": "15193912877",
    "title": "鸡心村三社社长",
    "role": "group_leader",
}
CADRE = {
    "code": "621221106201-C08",
    "name": "张桂芳",
    "phone": "13993912345",
    "title": "鸡心村村委会委员",
    "role": "village_cadre",
}
FIRST_SECRETARY = {
    "code": "621221106201-C01",
    "name": "李顺华",
    "phone": "15019439927",
    "title": "成县人力资源和社会保障局派驻鸡心村第一书记",
    "role": "first_secretary",
}
# Relocating households as the relocation rules leave them (codes, not words).
MOVES = [
    {
        "priority": 1,
        "household_code": "621221106201-H0001",
        "head_name": "杜忠有",
        "group": "三社",
        "address": "鸡心村三社1号",
        "people": 3,
        "phone": "18516829918",
        "vulnerabilities": ["mobility_impaired", "left_behind_children"],
        "zone": "danger",
        "reasons": ["vulnerable_in_hazard_zone", "hazard_risk"],
        # (hazard, the zone this household is in for it)
        "hazards": [("621221106201-Z005", "danger"), ("621221106201-Z003", "alert")],
        "safety_rating": "B",
        "house_type": "砖木",
        "found_danger": False,
        "shelter": SHELTER,
        "shortfall": False,
        "isolation": False,
    },
    {
        "priority": 5,
        "household_code": "621221106201-H0004",
        "head_name": "王金伟",
        "group": "一社",
        "address": "鸡心村一社2号",
        "people": 2,
        "phone": "",
        "vulnerabilities": [],
        "zone": "danger",
        "reasons": ["dangerous_house"],
        "hazards": [],
        "safety_rating": "D",
        "house_type": "土木",
        "found_danger": False,
        "shelter": None,
        "shortfall": True,
        "isolation": False,
    },
]
INSPECTIONS = [
    {
        "hazard": "621221106201-Z005",
        "phase": "before",
        "status": "danger",
        "finding": "后缘出现两条新裂缝，宽约3厘米",
        "checklist": ["坡体有无新裂缝或裂缝加宽", "坡脚有无鼓胀、渗水、浑水"],
    },
    {
        "hazard": "621221106201-Z004",
        "phase": "during",
        "status": "assigned",
        "finding": "",
        "checklist": ["水位是否超警戒", "堤岸有无冲刷、管涌"],
    },
]
# Shaped like sanqing.reporting.summarize() output.
FIGURES: dict[str, Any] = {
    "activation_id": "621221106-20260712-III",
    "town": "鸡峰镇",
    "town_code": "621221106",
    "county": "成县",
    "level": LEVEL,
    "drill": False,
    "status": "active",
    "activated_at": ACTIVATED_AT.isoformat(),
    "warning": WARNING["identifier"],
    "villages": 2,
    "village_figures": [
        {
            "code": "621221106201",
            "name": "鸡心村",
            "households_to_relocate": 12,
            "people_to_relocate": 41,
            "households_relocated": 10,
            "people_relocated": 35,
            "in_shelter": 30,
            "refused": 1,
            "unreachable": 0,
            "shortfall_people": 0,
            "hazard_points_inspected": 4,
            "hazard_points_dangerous": 0,
        },
        {
            "code": "621221106202",
            "name": "石门村",
            "households_to_relocate": 9,
            "people_to_relocate": 33,
            "households_relocated": 9,
            "people_relocated": 33,
            "in_shelter": 33,
            "refused": 0,
            "unreachable": 0,
            "shortfall_people": 6,
            "hazard_points_inspected": 5,
            "hazard_points_dangerous": 1,
        },
    ],
    "households_to_relocate": 21,
    "people_to_relocate": 74,
    "households_relocated": 19,
    "people_relocated": 68,
    "vulnerable_households_relocated": 7,
    "vulnerable_by_kind": {
        "five_guarantee": 1,
        "elderly_alone": 3,
        "mobility_impaired": 2,
        "left_behind_children": 2,
        "hardship": 0,
    },
    "shelters_used": 3,
    "shelter_shortfall_people": 6,
    "shelter_shortfall_households": 2,
    "hazard_points_inspected": 9,
    "hazard_points_dangerous": 1,
    "hazard_points_watch": 1,
    "dangers": [{"hazard": "石门洞滑坡", "finding": "后缘出现两条新裂缝，宽约3厘米，坡脚渗浑水"}],
    "roads_blocked": 2,
    "roads_cleared": 1,
    "roads_waiting": 1,
    "road_incidents": [
        {
            "road": "成康公路河坝段",
            "cause": "落石",
            "status": "reopened",
            "machine": "卡特320GC挖掘机（鸡峰镇应急机械1号）",
        },
        {"road": "石门村村道（二组—七组）", "cause": "塌方", "status": "blocked", "machine": None},
    ],
    "machines_dispatched": 1,
    "households_refused": 1,
    "households_unreachable": 1,
    "households_unconfirmed": 2,
    "households_escalated": 3,
    "approval": "approved",
    "urgent_households": 0,
    "urgent_people": 0,
    "on_duty": 26,
    "notices_by_channel": {"card": 21, "door_visit": 8, "sms": 180, "task_list": 14},
    "reports": [],
    "whereabouts": {
        "in_shelter": {"households": 15, "people": 55},
        "with_relatives": {"households": 3, "people": 10},
        "removed": {"households": 1, "people": 3},
        "moved": {"households": 0, "people": 0},
        "returned": {"households": 0, "people": 0},
    },
    "points_to_check": ["东河鸡心段河堤", "石门洞滑坡"],
    "casualties": {"dead": 0, "missing": 0, "injured": 0, "notes": []},
}
SIGNER = {"name": "徐文成", "title": "镇党委副书记、镇长"}
CONTACT = {"name": "谢虎建", "title": "镇应急管理办公室主任"}
#: What ``reporting.progress`` gives a follow-up: 3 households moved since, a new danger
#: and a road reopened since the initial report.
CHANGES: dict[str, Any] = {
    "ordered_households": 0,
    "ordered_people": 0,
    "moved_households": 3,
    "moved_people": 9,
    "moved": {
        "in_shelter": {"households": 2, "people": 6},
        "with_relatives": {"households": 1, "people": 3},
        "removed": {"households": 0, "people": 0},
        "moved": {"households": 0, "people": 0},
        "returned": {"households": 0, "people": 0},
    },
    "new_dangers": FIGURES["dangers"],
    "new_roads": [],
    "roads_cleared": FIGURES["road_incidents"][:1],
    "shelters_before": 2,
    "shelters_changed": True,
    "shortfall_changed": False,
    "roll_call": {"households_refused": 1},
    "approval_changed": False,
    "level_before": LEVEL,
    "level_changed": False,
    "casualties_changed": False,
    "any": True,
}
ENDED_AT = datetime(2026, 7, 13, 10, 0, tzinfo=UTC)
FINAL = {
    "ended_at": ENDED_AT,
    "ended_reason": "预警解除，雨后巡查确认安全",
    "patrol": {
        "by": "鸡峰镇雨后巡查组",
        "at": ENDED_AT - timedelta(minutes=20),
        "all_clear": True,
        "remarks": "各隐患点雨后巡查未发现新险情，石门洞滑坡继续监测",
    },
    "unaccounted": [
        {
            "village": "鸡心村",
            "household": "621221106201-H0004",
            "status": "refused",
            "cadre": "张桂芳",
        }
    ],
    "history": {"initial": 1, "follow_ups": 2, "dailies": 1, "late": 1},
}


def hazard_ctx(raw: dict[str, Any], locale: str, zone: str | None = None) -> dict[str, Any]:
    return {
        **raw,
        "kind": label(locale, "hazard_kind", raw["kind"]),
        "kind_code": raw["kind"],
        "risk": label(locale, "risk", raw["risk"]),
        "zone": label(locale, "zone", zone) if zone else "",
        "zone_code": zone or "",
        "monitor": MONITOR,
    }


def cadre_ctx(raw: dict[str, Any], locale: str) -> dict[str, Any]:
    return {**raw, "role": label(locale, "role", raw["role"])}


def move_ctx(raw: dict[str, Any], locale: str) -> dict[str, Any]:
    return {
        **raw,
        "vulnerabilities": [label(locale, "vulnerability", v) for v in raw["vulnerabilities"]],
        "zone": label(locale, "zone", raw["zone"]),
        "reasons": [label(locale, "reason", r) for r in raw["reasons"]],
        "hazards": [hazard_ctx(HAZARDS[c], locale, zone) for c, zone in raw["hazards"]],
        "house_unsafe": raw["safety_rating"] in ("C", "D"),
    }


def card_ctx(raw: dict[str, Any], locale: str, kind: str = "geological") -> dict[str, Any]:
    """A household card as ``sanqing.outbox.cards.household_card`` gives it."""
    m = move_ctx(raw, locale)
    return {
        "no": raw["household_code"],
        "kind": kind,
        "head_name": raw["head_name"],
        "members": raw["people"],
        "village": VILLAGE["name"],
        "group": raw["group"],
        "address": raw["address"],
        "house_type": raw["house_type"],
        "safety_rating": raw["safety_rating"],
        "house_unsafe": m["house_unsafe"],
        "hazards": m["hazards"],
        "monitor": MONITOR if m["hazards"] else cadre_ctx(CADRE, locale),
        "signal_issuer": SHELTER_MANAGER,
        "warning_signals": list(dict.fromkeys(h["warning_signal"] for h in m["hazards"])),
        "shelter": raw["shelter"] or SHELTER,
        "cadre": cadre_ctx(CADRE, locale),
        "isolation": raw["isolation"],
    }


def work_card_ctx(role: str, locale: str) -> dict[str, Any]:
    """A work card as ``sanqing.outbox.cards.monitor_cards`` / ``responsible_cards`` give it."""
    if role == "monitor":
        return {
            "role": "monitor",
            "cadre": MONITOR,
            "village": VILLAGE["name"],
            "points": [
                hazard_ctx(HAZARDS["621221106201-Z005"], locale)
                | {
                    "checklist": INSPECTIONS[0]["checklist"],
                    "households": 12,
                    "people": 47,
                }
            ],
            "signal_issuer": SHELTER_MANAGER,
            "first_secretary": cadre_ctx(FIRST_SECRETARY, locale),
        }
    households = [card_ctx(m, locale) for m in MOVES]
    return {
        "role": "responsible",
        "cadre": cadre_ctx(CADRE, locale),
        "village": VILLAGE["name"],
        "households": households,
        "people": sum(h["members"] for h in households),
        "shelters": [SHELTER],
        "routes": sorted({z["evacuation_route"] for h in households for z in h["hazards"]}),
        "first_secretary": cadre_ctx(FIRST_SECRETARY, locale),
    }


def notice_context(
    name: str, locale: str, *, drill: bool = False, warning: dict[str, Any] | None = WARNING
) -> dict[str, Any]:
    """The context ``issue_notices`` renders ``name`` with."""
    ctx: dict[str, Any] = {
        "drill": drill,
        "town": TOWN,
        "village": VILLAGE,
        "level": LEVEL,
        "level_name": LEVEL_NAME,
        "warning": warning_context(warning, locale),
        "first_secretary": cadre_ctx(FIRST_SECRETARY, locale),
        "generated_at": GENERATED_AT,
        "issued_on": GENERATED_AT,
        "repeats": REPEATS,
        "epidemic": None,  # 三情叠加: see test_templates_overlay
    }
    cadre = cadre_ctx(CADRE, locale)
    moves = [move_ctx(m, locale) for m in MOVES]
    summary = {
        "households": len(MOVES),
        "people": sum(m["people"] for m in MOVES),
        "groups": ["一社", "三社"],
        "group_shelters": [
            {"groups": ["一社"], "shelters": [], "shortfall": True},
            {"groups": ["三社"], "shelters": [SHELTER], "shortfall": False},
        ],
        "shelters": [SHELTER],
        "hazards": [hazard_ctx(h, locale) for _, h in sorted(HAZARDS.items())],
    }
    inspections = [
        {
            "hazard": hazard_ctx(HAZARDS[i["hazard"]], locale),
            "phase": label(locale, "phase", i["phase"]),
            "status": label(locale, "inspection", i["status"]),
            "finding": i["finding"],
            "checklist": i["checklist"],
        }
        for i in INSPECTIONS
    ]
    # What ``response.escalate_unconfirmed`` gives the first secretary: households nobody confirmed.
    escalation = {
        "to": {"name": FIRST_SECRETARY["name"], "title": "驻村第一书记"},
        "households": [
            {
                "head": m["head_name"],
                "group": m["address"][3:5],
                "address": m["address"],
                "members": m["people"],
                "status": status,
                "cadre": CADRE["name"],
                "vulnerabilities": m["vulnerabilities"],
            }
            for m, status in zip(MOVES, ("unreachable", "ordered"), strict=False)
        ],
        "people": sum(m["people"] for m in MOVES[:2]),
        "unreachable": 1,
        "refused": 0,
        "step": "roll_call",
        "at": REPORTED_AT,
    }
    extra: dict[str, dict[str, Any]] = {
        "notices/warning.sms.txt": {},
        "notices/relocation.sms.txt": {"move": moves[0], "cadre": cadre},
        "notices/group.wechat.txt": {"summary": summary},
        "notices/broadcast.loudspeaker.txt": {"summary": summary},
        "notices/door_visit.html": {"cadre": cadre, "moves": moves},
        "notices/card.html": {"card": card_ctx(MOVES[0], locale)},
        "notices/work_card.html": {"card": work_card_ctx("responsible", locale)},
        "notices/tasks.txt": {"cadre": cadre, "moves": moves, "inspections": inspections},
        "notices/escalation.sms.txt": escalation,
        # What ``response.inform_commander`` tells the commander: moves made before approval.
        "notices/urgent.sms.txt": {
            "to": {"name": "徐文成", "title": "镇党委副书记、镇长"},
            "households": 3,
            "people": 11,
            "villages": 2,
            "danger_finding": 2,
            "cannot_judge": 1,
            "night": 0,
        },
        "notices/escalation.txt": escalation,
        # What ``fallback.fallback_unreached`` gives a cadre: households the SMS missed.
        "notices/phone_call.txt": {
            "to": {"name": CADRE["name"]},
            "households": [
                {
                    "village": VILLAGE["name"],
                    "group": m["address"][3:5],
                    "head": m["head_name"],
                    "address": m["address"],
                    "phone": m["phone"],
                }
                for m in MOVES[:1]
            ],
        },
    }
    return ctx | extra[name]


#: When each kind is written in the golden contexts, and its deadline: the 首报 from the
#: event (the warning), the 续报 on the follow-up schedule, the 日报 after 08:00, the 终报
#: after the end.
WRITTEN = {
    "initial": (REPORTED_AT, WARNING_SENT + INITIAL_REPORT_WITHIN),
    "follow_up": (REPORTED_AT + timedelta(hours=2), ACTIVATED_AT + timedelta(hours=12)),
    "daily": (
        datetime(2026, 7, 13, 8, 30, tzinfo=SHANGHAI),
        datetime(2026, 7, 13, 9, 0, tzinfo=SHANGHAI),
    ),
    "final": (ENDED_AT + timedelta(minutes=10), ENDED_AT + timedelta(hours=6)),
}


def report_context(
    locale: str,
    *,
    drill: bool = False,
    now: datetime | None = None,
    kind: str = "initial",
    zero: bool = False,
) -> dict[str, Any]:
    """The context ``write_report`` renders a report of ``kind`` with (before ``lines``)."""
    level = label(locale, "level", LEVEL)
    written, deadline = WRITTEN[kind]
    now = now or written
    late = now > deadline
    if kind == "daily":
        numbered = "7月13日零报告" if zero else "7月13日日报"
        if locale != "zh-CN":
            numbered = f"{'zero report' if zero else 'daily report'} of 2026-07-13"
    else:
        numbered = label(locale, "report_kind", kind) + (
            ("二" if locale == "zh-CN" else " no. 2") if kind == "follow_up" else ""
        )
    if locale == "zh-CN":
        heading = f"关于防汛{level}应急响应{'结束及处置' if kind == 'final' else ''}情况的报告"
        title = f"{'【演练】' if drill else ''}{TOWN['office']}{heading}（{numbered}）"
    else:
        heading = f"Report on the {'end of the ' if kind == 'final' else ''}{level} flood response"
        title = f"{'[DRILL] ' if drill else ''}{TOWN['office']}: {heading} ({numbered})"
    ctx: dict[str, Any] = {
        "title": title,
        "heading": heading,
        "kind": kind,
        "numbered": numbered,
        "seq": 2 if kind == "follow_up" else 0,
        "drill": drill,
        "town": TOWN,
        "level": LEVEL,
        "basis": "warning",
        "warning": warning_context(WARNING, locale),
        "rain": "预计未来6小时内，我县鸡峰镇、小川镇等地将出现50毫米以上强降水",
        "event_at": WARNING_SENT,
        "activated_at": ACTIVATED_AT,
        "now": now,
        "deadline": deadline,
        "late": late,
        "late_minutes": int((now - deadline).total_seconds() // 60) if late else 0,
        "phone_due": WARNING_SENT + timedelta(minutes=30),
        "zero": zero,
        "f": FIGURES | {"drill": drill},
        "since": {
            "numbered": label(locale, "report_kind", "initial"),
            "at": REPORTED_AT,
        },
        "changes": CHANGES,
        "signer": SIGNER,
        "contact": CONTACT,
    }
    if kind == "final":
        ctx["final"] = FINAL
    return ctx


def render_report(name: str, locale: str, **kw: Any) -> str:
    """Render a report template as ``write_report`` does: the HTML page from the text."""
    kind, ext = name.removeprefix("reports/").rsplit(".", 1)
    ctx = report_context(locale, kind=kind, **kw)
    text = render(f"reports/{kind}.txt", locale=locale, **ctx)
    if ext == "txt":
        return text
    return render(name, locale=locale, lines=text.splitlines(), **ctx)


def context(name: str, locale: str, *, drill: bool = False) -> dict[str, Any]:
    if name in REPORTS:
        kind, ext = name.removeprefix("reports/").rsplit(".", 1)
        ctx = report_context(locale, drill=drill, kind=kind)
        if ext == "html":
            ctx["lines"] = render(f"reports/{kind}.txt", locale=locale, **ctx).splitlines()
        return ctx
    return notice_context(name, locale, drill=drill)


# --- golden files ---------------------------------------------------------------


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("name", TEMPLATES)
def test_rendering_matches_golden_file(name: str, locale: str) -> None:
    text = render(name, locale=locale, **context(name, locale))
    golden = GOLDEN_DIR / locale / name
    if UPDATE_GOLDEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(text.encode("utf-8"))
    assert golden.exists(), f"{golden} is missing: run with SANQING_UPDATE_GOLDEN=1 to create it"
    assert text == golden.read_bytes().decode("utf-8"), (
        f"{locale}/{name} differs from {golden}; if the change is meant, "
        "rerun with SANQING_UPDATE_GOLDEN=1 and review the diff"
    )


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_template_has_a_golden_test(locale: str) -> None:
    root = get_settings().templates_dir / locale
    # Shared pieces (reports/_parts, _page) are tested through the templates using them.
    found = {
        str(p.relative_to(root)).removesuffix(".j2")
        for p in root.rglob("*.j2")
        if not p.name.startswith("_")
    }
    from tests.unit.test_board import BOARD_TEMPLATES
    from tests.unit.test_epidemic_golden import EPIDEMIC_TEMPLATES
    from tests.unit.test_review import REVIEW_TEMPLATES
    from tests.unit.test_whatif import WHATIF_TEMPLATES

    more = set(WHATIF_TEMPLATES) | set(BOARD_TEMPLATES) | set(REVIEW_TEMPLATES)
    assert found == set(TEMPLATES) | set(PLANS) | set(EPIDEMIC_TEMPLATES) | more


# --- SMS length -----------------------------------------------------------------

LONG_SHELTER = {
    "code": "621221106201-S9",
    "name": "鸡峰镇鸡心村村民委员会文化活动中心二楼临时安置点",
    "kind": "村委会",
    "village": "",
    "manager": SHELTER_MANAGER | {"name": "欧阳建国"},
}


def worst_case_sms_contexts(name: str, locale: str) -> list[dict[str, Any]]:
    """Drill, the longest warning title, 4-character names, a long shelter name or none."""
    warning = WARNING | {"hazard": "geological", "colour": "yellow"}
    out = []
    for shelter in (LONG_SHELTER, None):
        ctx = notice_context(name, locale, drill=True, warning=warning)
        ctx["village"] = {"code": VILLAGE["code"], "name": "石门沟口村"}
        if name == "notices/relocation.sms.txt":
            # Three hazards and a dangerous house: the longest reason a household can have.
            worst = MOVES[0] | {
                "head_name": "欧阳德华",
                "shelter": shelter,
                "safety_rating": "D",
                "hazards": [(c, "danger") for c in HAZARDS],
            }
            ctx["move"] = move_ctx(worst, locale)
            ctx["cadre"] = cadre_ctx(CADRE | {"name": "司马志远"}, locale)
        out.append(ctx)
    return out


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("name", RESIDENT_SMS)
def test_resident_sms_fits_in_three_segments(name: str, locale: str) -> None:
    contexts = [
        context(name, locale),
        context(name, locale, drill=True),
        notice_context(name, locale, warning=None),
        *worst_case_sms_contexts(name, locale),
    ]
    for ctx in contexts:
        text = render(name, locale=locale, **ctx)
        # The trailing newline is counted (nothing strips it before sending), and so is
        # the signature the platform puts in front.
        sent = SIGNATURE + text
        assert segments(sent) <= MAX_SMS_SEGMENTS, f"{segments(sent)} segments: {sent!r}"


@pytest.mark.parametrize("name", RESIDENT_SMS)
def test_english_sms_wording_is_gsm7(name: str) -> None:
    # Names from the registry are Chinese, so real messages go as UCS-2; the
    # English wording itself must not force UCS-2 when names are romanized.
    ctx = notice_context(name, "en", drill=True)
    ctx["town"] = ctx["town"] | {"name": "Jifeng"}
    ctx["village"] = VILLAGE | {"name": "Jixin"}
    if name == "notices/relocation.sms.txt":
        ctx["move"] = ctx["move"] | {
            "head_name": "Du Zhongyou",
            "shelter": {"name": "Jixin hall", "manager": {"name": "He Jianjun", "phone": "1"}},
        }
        ctx["cadre"] = ctx["cadre"] | {"name": "Zhang Guifang"}
    text = render(name, locale="en", **ctx)
    assert set(text) <= GSM7_BASIC | GSM7_EXTENDED, set(text) - GSM7_BASIC - GSM7_EXTENDED
    assert segments(text) <= MAX_SMS_SEGMENTS


def test_relocation_sms_without_cadre_gives_duty_phone() -> None:
    for locale in SUPPORTED_LOCALES:
        ctx = notice_context("notices/relocation.sms.txt", locale)
        ctx["cadre"] = {"code": "", "name": "", "phone": "", "title": "", "role": ""}
        text = render("notices/relocation.sms.txt", locale=locale, **ctx)
        assert TOWN["duty_phone"] in text


# --- strictness, escaping, drills -----------------------------------------------


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("name", TEMPLATES)
def test_missing_variable_raises(name: str, locale: str) -> None:
    with pytest.raises(UndefinedError):
        render(name, locale=locale)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_missing_nested_key_raises(locale: str) -> None:
    ctx = notice_context("notices/relocation.sms.txt", locale)
    ctx["move"] = {k: v for k, v in ctx["move"].items() if k != "head_name"}
    with pytest.raises(UndefinedError):
        render("notices/relocation.sms.txt", locale=locale, **ctx)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("name", HTML_WITH_HEAD_NAME)
def test_html_escapes_names(name: str, locale: str) -> None:
    ctx = notice_context(name, locale)
    raw = MOVES[0] | {"head_name": "<script>alert(1)</script>"}
    if name == "notices/work_card.html":
        ctx["card"] = ctx["card"] | {"households": [card_ctx(raw, locale)]}
    elif name == "notices/card.html":
        ctx["card"] = card_ctx(raw, locale)
    else:
        ctx["moves"] = [move_ctx(raw, locale)]
    html = render(name, locale=locale, **ctx)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_text_notices_are_not_escaped(locale: str) -> None:
    ctx = notice_context("notices/relocation.sms.txt", locale)
    ctx["move"] = ctx["move"] | {"shelter": SHELTER | {"name": "A&B <hall>"}}
    assert "A&B <hall>" in render("notices/relocation.sms.txt", locale=locale, **ctx)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("name", TEMPLATES)
def test_drill_is_marked(name: str, locale: str) -> None:
    if name in SMS:
        marker = SMS_DRILL_MARKERS[locale]
    elif name == "notices/broadcast.loudspeaker.txt":
        marker = SPOKEN_DRILL_MARKERS[locale]
    else:
        marker = DRILL_MARKERS[locale]
    drill = render(name, locale=locale, **context(name, locale, drill=True))
    assert marker in drill
    if name in SMS:
        assert drill.startswith(marker)  # said first, in words
    assert marker not in render(name, locale=locale, **context(name, locale))


# --- reports --------------------------------------------------------------------


def test_duty_phone_is_not_personal_data() -> None:
    assert not contains_personal_data(TOWN["duty_phone"])


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("name", REPORTS)
@pytest.mark.parametrize("drill", [False, True])
def test_report_has_no_resident_data(name: str, locale: str, drill: bool) -> None:
    text = render_report(name, locale, drill=drill)
    assert not contains_personal_data(text.replace(TOWN["duty_phone"], ""))
    for m in MOVES:
        assert m["head_name"] not in text
        assert not m["phone"] or m["phone"] not in text


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("name", REPORTS)
def test_late_report_says_so(name: str, locale: str) -> None:
    late_by = timedelta(minutes=25)
    kind = name.split("/")[1].split(".")[0]
    text = render_report(name, locale, now=WRITTEN[kind][1] + late_by)
    assert "25" in text
    assert ("晚于时限25分钟" if locale == "zh-CN" else "25 minutes after its deadline") in text


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_report_time_is_beijing_time(locale: str) -> None:
    text = render_report("reports/initial.txt", locale)
    assert ("19时00分" if locale == "zh-CN" else "19:00") in text  # activated 11:00 UTC


@pytest.mark.parametrize("name", [n for n in REPORTS if n.endswith(".html")])
def test_report_html_escapes_names_from_data(name: str) -> None:
    ctx = report_context("zh-CN", kind=name.split("/")[1].split(".")[0])
    ctx["lines"] = ["<script>alert(1)</script>"]
    html = render(name, locale="zh-CN", **ctx)
    assert "<script>" not in html and "&lt;script&gt;" in html


# --- lookup errors --------------------------------------------------------------


def test_unknown_locale_raises_template_missing() -> None:
    ctx = notice_context("notices/warning.sms.txt", "en")
    with pytest.raises(TemplateMissing, match="fr"):
        render("notices/warning.sms.txt", locale="fr", **ctx)


def test_unknown_template_raises_template_missing() -> None:
    with pytest.raises(TemplateMissing, match=r"notices/nothing\.txt"):
        render("notices/nothing.txt", locale="zh-CN")
    assert issubclass(TemplateMissing, LookupError)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("name", ["notices/group.wechat.txt", "notices/broadcast.loudspeaker.txt"])
def test_village_messages_never_name_an_empty_list_of_shelters(name: str, locale: str) -> None:
    ctx = notice_context(name, locale)
    ctx["summary"] = ctx["summary"] | {"shelters": []}
    text = render(name, locale=locale, **ctx)
    assert "转移到。" not in text and "安置点：。" not in text and "move now to ." not in text
    assert ("安全地带" if locale == "zh-CN" else "safe ground") in text


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_removal_step_asks_for_removal_and_who_did_it(locale: str) -> None:
    """应撤必撤: after the town leader, a refusing household is removed, and who did it is reported."""
    ctx = context("notices/escalation.txt", locale) | {"step": "removal", "refused": 1}
    text = render("notices/escalation.txt", locale=locale, **ctx)
    sms = render("notices/escalation.sms.txt", locale=locale, **ctx)
    if locale == "zh-CN":
        assert "带离督办单" in text and "依法带离" in text and "带离人和时间" in text
        assert "应撤必撤" in sms and "带离" in sms
    else:
        assert "remove them now" in text and "who removed them" in text
        assert "remove them now" in sms
    leader = context("notices/escalation.txt", locale) | {"step": "town_leader", "refused": 1}
    assert ("第一书记核实后仍未到位" if locale == "zh-CN" else "after the first secretary") in (
        render("notices/escalation.txt", locale=locale, **leader)
    )


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_zero_report_matches_golden_file(locale: str) -> None:
    # 零报告: the daily report's short form when nothing is new and nobody was hurt.
    text = render_report("reports/daily.txt", locale, zero=True)
    golden = GOLDEN_DIR / locale / "reports" / "daily-zero.txt"
    if UPDATE_GOLDEN:
        golden.write_bytes(text.encode("utf-8"))
    assert text == golden.read_bytes().decode("utf-8")
    assert ("零报告" if locale == "zh-CN" else "zero report") in text.lower()
    assert ("险情" not in text.split("办公室：", 1)[-1].replace("无新增险情", "")) or locale == "en"


# --- Gansu practice in every notice ------------------------------------------------------


@pytest.mark.parametrize("name", NOTICES)
@pytest.mark.parametrize("drill", [False, True])
def test_notices_write_levels_one_way_and_say_she_not_zu(name: str, drill: bool) -> None:
    text = render(name, locale="zh-CN", **context(name, "zh-CN", drill=drill))
    assert not re.search(r"[一二三四]级|[IV]+级|[1-4]级", text), text
    assert not re.search(r"[一二三四五六七八九十]组|村组|组长", text), text
    if name in SMS:
        assert "【" not in text and "】" not in text


@pytest.mark.parametrize(
    ("hazard", "colour", "formal"),
    [
        ("rainstorm", "orange", "暴雨橙色预警信号"),
        ("flood", "red", "山洪灾害气象风险红色预警"),
        ("geological", "yellow", "地质灾害气象风险黄色预警"),
    ],
)
def test_warnings_are_named_as_issued(hazard: str, colour: str, formal: str) -> None:
    ctx = notice_context("notices/warning.sms.txt", "zh-CN")
    ctx["warning"] = warning_context(WARNING | {"hazard": hazard, "colour": colour}, "zh-CN")
    assert render("notices/warning.sms.txt", locale="zh-CN", **ctx).startswith(formal + "已发布")


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("repeats", [1, 2, 3])
def test_the_broadcast_is_written_out_as_often_as_it_says(locale: str, repeats: int) -> None:
    ctx = notice_context("notices/broadcast.loudspeaker.txt", locale, drill=True)
    ctx["repeats"] = repeats
    text = render("notices/broadcast.loudspeaker.txt", locale=locale, **ctx)
    opening = "乡亲们请注意" if locale == "zh-CN" else "Attention, people of"
    assert text.count(opening) == repeats
    said = f"共{cn_number(repeats)}遍" if locale == "zh-CN" else f"of {repeats})"
    assert text.count(said) == repeats
    assert text.rstrip().endswith("演练结束。" if locale == "zh-CN" else "The drill is over.")
    for way in ctx["summary"]["group_shelters"]:
        for group in way["groups"]:
            assert text.count(group) == repeats  # which 社 goes where, every time


def test_a_dangerous_house_sms_says_the_house_is_unsafe_not_a_danger_zone() -> None:
    ctx = notice_context("notices/relocation.sms.txt", "zh-CN")
    ctx["move"] = move_ctx(MOVES[1] | {"shelter": SHELTER}, "zh-CN")
    text = render("notices/relocation.sms.txt", locale="zh-CN", **ctx)
    assert "危险区" not in text and "您家处于" not in text
    assert "您家房屋为D级危房，大雨中不安全" in text
    assert text.rstrip().endswith(CADRE["phone"]) and "未接到通知不要返回" in text


@pytest.mark.parametrize(
    ("kind", "title"),
    [
        ("geological", "地质灾害防灾避险明白卡"),
        ("flash_flood", "山洪灾害防御明白卡"),
        ("house", "危房避险明白卡"),
    ],
)
def test_the_card_is_titled_for_its_hazard(kind: str, title: str) -> None:
    ctx = notice_context("notices/card.html", "zh-CN")
    ctx["card"] = card_ctx(MOVES[0], "zh-CN", kind=kind)
    assert f"<h1>{title}</h1>" in render("notices/card.html", locale="zh-CN", **ctx)


def test_the_monitor_card_lists_points_checks_and_whom_to_call() -> None:
    ctx = notice_context("notices/work_card.html", "zh-CN") | {
        "card": work_card_ctx("monitor", "zh-CN")
    }
    text = render("notices/work_card.html", locale="zh-CN", **ctx)
    assert "鸡心村后山滑坡" in text and "坡体有无新裂缝或裂缝加宽" in text
    assert SHELTER_MANAGER["phone"] in text and TOWN["duty_phone"] in text


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_door_list_reasons_escape_hazard_names(locale: str) -> None:
    ctx = notice_context("notices/door_visit.html", locale)
    ctx["moves"][0]["hazards"][0]["name"] = "<b>后山</b>"
    html = render("notices/door_visit.html", locale=locale, **ctx)
    assert "<b>" not in html and "&lt;b&gt;后山&lt;/b&gt;" in html and "<br>" in html


@pytest.mark.parametrize(
    ("decision", "zh", "en"),
    [
        ("rejected", "指挥长决定未下达转移令", "The commander gave no order to move"),
        ("timeout_held", "指挥长审批超时未答复，按预案未下达转移令", "did not answer in time"),
    ],
)
def test_a_final_report_after_no_order_to_move_does_not_say_the_danger_zones_were_emptied(
    decision: str, zh: str, en: str
) -> None:
    figures = FIGURES | {"approval": decision, "households_relocated": 28, "people_relocated": 97}
    for locale, said in (("zh-CN", zh), ("en", en)):
        ctx = report_context(locale, kind="final") | {"f": figures}
        ctx["final"] = FINAL | {"unaccounted": []}
        text = render("reports/final.txt", locale=locale, **ctx)
        assert said in text
        assert (
            "仅紧急撤离的28户97人转移" if locale == "zh-CN" else "only the 28 households"
        ) in text
        assert "全部转移到位" not in text and "Every household of a danger zone" not in text
    ctx = report_context("zh-CN", kind="final") | {"f": FIGURES | {"approval": "approved"}}
    ctx["final"] = FINAL | {"unaccounted": []}
    assert "危险区内群众全部转移到位" in render("reports/final.txt", locale="zh-CN", **ctx)


def test_the_initial_report_says_urgent_moves_were_ordered_not_that_they_are_done() -> None:
    # at the 首报 the roll call has confirmed nobody yet: 已转移0户 beside 50户 ordered out
    figures = FIGURES | {"urgent_households": 50, "urgent_people": 187, "households_relocated": 0}
    for locale, said in (
        ("zh-CN", "50户187人未等审批即组织撤离（到位情况以点名核实为准）"),
        ("en", "50 households (187 people) were told to move at once"),
    ):
        ctx = report_context(locale, kind="initial") | {"f": figures}
        text = render("reports/initial.txt", locale=locale, **ctx)
        assert said in text and "先行撤离" not in text
