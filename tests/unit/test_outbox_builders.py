"""Which notices each channel's builder adds, to whom, under which key (sanqing/outbox/builders.py).

A small village built by hand, no database: four households (two with a phone, two
moving, one whose card was never handed out), one hazard point, one shelter, and
three cadres (one with moves, one first secretary, one inspector only).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from sanqing.models import (
    Activation,
    Cadre,
    CadreRole,
    Channel,
    HazardKind,
    HazardPoint,
    Household,
    Inspection,
    InspectionPhase,
    InspectionStatus,
    Relocation,
    RiskLevel,
    SafetyRating,
    Shelter,
    Town,
    Village,
    Zone,
)
from sanqing.outbox import builders
from sanqing.outbox.batch import NoticeBatch
from sanqing.outbox.cards import CardBook
from sanqing.outbox.contexts import NoticeContext
from sanqing.outbox.village import VillageFacts
from sanqing.plans import load_plan
from sanqing.warning import WarningInfo

ACT = "flood-621221106-t1"
NOW = datetime(2026, 7, 12, 11, 0, tzinfo=UTC)
TOWN = "621221106"
VILLAGE = "621221106202"
VERSION = re.compile(r"[0-9a-f]{12}")


def household(code: str, **kw: Any) -> Household:
    fields: dict[str, Any] = {
        "code": code,
        "village_code": VILLAGE,
        "group_name": "一社",
        "head_name": f"户主{code}",
        "members": 3,
        "address": f"一社{code}号",
        "lat": 33.7,
        "lon": 105.7,
        "house_type": "砖混",
        "safety_rating": SafetyRating.B,
        "responsible_cadre_code": "C1",
    }
    return Household(**(fields | kw))


def move(code: str, priority: int, **kw: Any) -> Relocation:
    fields: dict[str, Any] = {
        "id": f"{ACT}:{code}",
        "activation_id": ACT,
        "village_code": VILLAGE,
        "household_code": code,
        "people": 3,
        "zone": Zone.DANGER,
        "priority": priority,
        "cadre_code": "C1",
        "ordered_at": NOW,
        "updated_at": NOW,
    }
    return Relocation(**(fields | kw))


def cadre(code: str, role: CadreRole, phone: str) -> Cadre:
    return Cadre(
        code=code,
        town_code=TOWN,
        village_code=VILLAGE,
        name=f"干部{code}",
        role=role,
        title="村委会委员",
        phone=phone,
    )


@pytest.fixture
def facts() -> VillageFacts:
    town = Town(
        code=TOWN,
        key="jifeng",
        name="鸡峰镇",
        county_code="621221",
        county="成县",
        office="鸡峰镇人民政府",
        duty_phone="0939-3200000",
        lat=33.7,
        lon=105.7,
    )
    village = Village(code=VILLAGE, town_code=TOWN, name="石门村", lat=33.7, lon=105.7)
    households = {
        h.code: h
        for h in [
            household("H1", phone="13800000001"),  # moves, has a phone
            household("H2", phone="13800000002"),  # stays, has a phone
            household("H3", safety_rating=SafetyRating.D, card_issued=False),  # moves, no phone
            household("H4"),  # stays, no phone
        ]
    }
    hazard = HazardPoint(
        code="HP1",
        village_code=VILLAGE,
        name="石门洞滑坡",
        kind=HazardKind.LANDSLIDE,
        risk=RiskLevel.HIGH,
        lat=33.7,
        lon=105.7,
        description="后山",
        warning_signal="鸣锣",
        evacuation_route="沿村道向东",
    )
    shelter = Shelter(
        code="S1",
        town_code=TOWN,
        village_code=VILLAGE,
        name="石门小学",
        kind="学校",
        capacity=100,
        lat=33.7,
        lon=105.7,
        manager_cadre_code="C1",
    )
    cadres = {
        c.code: c
        for c in [
            cadre("C1", CadreRole.VILLAGE_CADRE, "13900000001"),
            cadre("C2", CadreRole.FIRST_SECRETARY, "13900000002"),
            cadre("C3", CadreRole.GROUP_LEADER, "13900000003"),
        ]
    }
    relocations = [
        move("H1", 1, hazard_codes=["HP1"], reasons=["hazard_zone"], shelter_code="S1"),
        move("H3", 2, reasons=["dangerous_house"], shortfall=True),
    ]
    book = CardBook(
        town=town,
        villages={VILLAGE: village},
        households=households,
        cadres=cadres,
        shelters={"S1": shelter},
        hazards={"HP1": hazard},
        threats={"H1": [("HP1", Zone.DANGER)]},
    )
    return VillageFacts(
        town=town,
        village=village,
        written=set(),
        households=households,
        relocations=relocations,
        shelters={"S1": shelter},
        cadres=cadres,
        village_hazards=[hazard],
        hazards={"HP1": hazard},
        book=book,
    )


@pytest.fixture
def ctx(facts: VillageFacts) -> NoticeContext:
    return NoticeContext(facts, "zh-CN")


def new_batch(ctx: NoticeContext, *, written: set[str] | None = None) -> NoticeBatch:
    act = Activation(
        id=ACT,
        town_code=TOWN,
        plan="flood",
        level="II",
        trigger="warning",
        warning=WarningInfo(identifier="W-1", hazard="rainstorm", colour="orange").model_dump(
            mode="json"
        ),
        activated_at=NOW,
        updated_at=NOW,
    )
    return NoticeBatch(
        activation_id=ACT,
        village_code=VILLAGE,
        locale="zh-CN",
        common=ctx.common(activation=act, plan=load_plan(), now=NOW),
        signature="【成县鸡峰镇人民政府】",
        sms_max_segments=5,
        written=written or set(),
    )


def ids(batch: NoticeBatch) -> list[str]:
    return [row["id"] for row in batch.rows]


def test_every_household_with_a_phone_gets_its_order_or_the_warning(ctx: NoticeContext) -> None:
    batch = new_batch(ctx)
    builders.resident_sms(batch, ctx)
    assert ids(batch) == [f"{ACT}:sms:relocation:H1", f"{ACT}:sms:warning:H2"]
    order, warning = batch.rows
    assert (order["recipient"], order["address"]) == ("H1", "13800000001")
    assert (order["subject"], warning["subject"]) == ("转移通知", "预警提醒")
    assert "石门小学" in order["body"] and "暴雨橙色预警信号" in warning["body"]
    # the platform's signature rides along for the print folder, never in the body
    assert order["payload"] == {"signature": "【成县鸡峰镇人民政府】"}
    assert "【" not in order["body"]
    assert batch.too_long == [] and batch.superseded == []


def test_an_sms_already_in_the_outbox_is_not_added_again(ctx: NoticeContext) -> None:
    batch = new_batch(ctx, written={f"{ACT}:sms:relocation:H1"})
    builders.resident_sms(batch, ctx)
    assert ids(batch) == [f"{ACT}:sms:warning:H2"]


def test_an_sms_over_the_segments_is_kept_whole_and_noted(ctx: NoticeContext) -> None:
    batch = new_batch(ctx)
    batch.sms_max_segments = 1
    builders.resident_sms(batch, ctx)
    assert batch.too_long == ["H1", "H2"]
    assert len(batch.rows) == 2


def test_the_village_messages_go_only_to_the_planned_channels(ctx: NoticeContext) -> None:
    batch = new_batch(ctx)
    builders.village_messages(batch, ctx, ctx.summary(), {Channel.LOUDSPEAKER})
    [row] = batch.rows
    stem = f"{ACT}:loudspeaker:broadcast:{VILLAGE}:"
    assert row["id"].startswith(stem) and VERSION.fullmatch(row["id"].removeprefix(stem))
    assert (row["audience"], row["subject"], row["address"]) == ("public", "石门村流动喇叭", None)
    assert batch.superseded == [stem]


def test_a_village_message_is_versioned_by_what_it_says(ctx: NoticeContext) -> None:
    first = new_batch(ctx)
    builders.village_messages(first, ctx, ctx.summary(), {Channel.WECHAT})
    [row] = first.rows
    assert row["subject"] == "石门村村民群"

    again = new_batch(ctx, written={row["id"]})
    builders.village_messages(again, ctx, ctx.summary(), {Channel.WECHAT})
    assert again.rows == [] and again.superseded == [] and again.older_versions() == []

    older = f"{ACT}:wechat:group:{VILLAGE}:000000000000"
    changed = new_batch(ctx, written={older})
    builders.village_messages(changed, ctx, ctx.summary(), {Channel.WECHAT})
    assert ids(changed) == [row["id"]]
    assert changed.older_versions() == [older]


def test_each_cadre_with_moves_gets_one_door_visit_list(
    ctx: NoticeContext, facts: VillageFacts
) -> None:
    batch = new_batch(ctx)
    builders.door_visit_lists(batch, ctx, facts.moves_by_cadre())
    [row] = batch.rows
    assert row["id"].startswith(f"{ACT}:door_visit:door_visit:C1:")
    assert (row["recipient"], row["address"], row["body_format"]) == ("C1", "13900000001", "html")
    assert row["subject"] == "石门村入户叫应清单"
    # both households, the one without a phone too, in priority order
    assert row["body"].index("户主H1") < row["body"].index("户主H3")


def test_a_response_prints_only_the_cards_never_handed_out(ctx: NoticeContext) -> None:
    batch = new_batch(ctx)
    builders.missing_cards(batch, ctx)
    assert ids(batch) == [f"{ACT}:card:card:H3"]
    assert batch.rows[0]["subject"] == "避险明白卡"
    assert batch.rows[0]["body_format"] == "html"


def test_task_lists_go_to_cadres_with_moves_and_to_inspectors(
    ctx: NoticeContext, facts: VillageFacts
) -> None:
    inspections = [
        Inspection(
            id=f"{ACT}:HP1:{who}",
            activation_id=ACT,
            village_code=VILLAGE,
            hazard_code="HP1",
            phase=InspectionPhase.BEFORE,
            status=InspectionStatus.ASSIGNED,
            inspector_code=who,
        )
        for who in ("C3", None)
    ]
    by_inspector = builders.inspections_by_inspector(ctx, inspections)
    assert list(by_inspector) == ["C3"]  # an inspection nobody holds is on no list
    assert by_inspector["C3"][0]["hazard"]["name"] == "石门洞滑坡"

    batch = new_batch(ctx)
    builders.task_lists(batch, ctx, facts.moves_by_cadre(), inspections)
    assert [row["recipient"] for row in batch.rows] == ["C1", "C3"]
    assert all(row["id"].startswith(f"{ACT}:task_list:tasks:") for row in batch.rows)
    assert [row["address"] for row in batch.rows] == ["13900000001", "13900000003"]
    assert "石门洞滑坡" in batch.rows[1]["body"]


def test_in_english_every_subject_is_english(facts: VillageFacts) -> None:
    en = NoticeContext(facts, "en")
    batch = new_batch(en)
    builders.resident_sms(batch, en)
    builders.village_messages(batch, en, en.summary(), {Channel.WECHAT, Channel.LOUDSPEAKER})
    builders.door_visit_lists(batch, en, facts.moves_by_cadre())
    subjects = {row["subject"] for row in batch.rows}
    assert subjects == {
        "Relocation order",
        "Warning",
        "石门村 village group",
        "石门村 loudspeaker",
        "石门村 door-visit list",
    }  # the village's name is data: it stays as the registry writes it
