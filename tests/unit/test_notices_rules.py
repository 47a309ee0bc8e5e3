"""What every notice written for the sample town must say, whatever the wording (sanqing/outbox/notices.py).

A response is run over the database on the jifeng sample (no Prefect): relocations,
shelters, then ``issue_notices`` per village; the rules are checked on the outbox.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from sanqing import response
from sanqing.db import session_scope
from sanqing.models import (
    Cadre,
    Channel,
    Household,
    InspectionPhase,
    Notice,
    Relocation,
    Shelter,
    Town,
)
from sanqing.outbox import notices, sms
from sanqing.plans import Level, Plan, load_plan
from sanqing.registry import ensure_registry, find_town
from sanqing.scenarios import FindingInput
from sanqing.warning import WarningInfo

NOW = datetime(2026, 7, 12, 11, 0, tzinfo=UTC)
ORANGE = WarningInfo(identifier="W-1", hazard="rainstorm", colour="orange")
SHIMEN = "621221106202"
#: Why a household moves, as the relocation SMS must say it (one at least).
WHY = re.compile(r"滑坡|崩塌|泥石流|河道|落石|积水|危房|险情|隐患")


def respond(level: Level, *, drill: bool = False, danger: str | None = None) -> tuple[str, Plan]:
    """Activate, inspect (a danger at ``danger``), move and place, write every notice."""
    ensure_registry("jifeng")
    plan = load_plan()
    with session_scope() as s:
        act = response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=plan,
            level=level,
            warning=ORANGE,
            drill=drill,
            now=NOW,
        ).activation_id
    with session_scope() as s:
        villages = [v.code for v in response.villages_of(s, town_code="621221106")]
    if danger is not None:
        with session_scope() as s:
            found = response.resolve_findings(
                s,
                town_code="621221106",
                findings=[FindingInput(hazard=danger, status="danger", note="后缘裂缝")],
            )
            response.inspect_hazards(
                session=s,
                activation_id=act,
                village_code=SHIMEN,
                phase=InspectionPhase.BEFORE,
                plan=plan,
                findings=found,
                drill=drill,
            )
    with session_scope() as s:
        for code in villages:
            response.plan_relocations(session=s, activation_id=act, village_code=code, plan=plan)
        response.assign_town_shelters(session=s, activation_id=act, plan=plan)
    for code in villages:
        with session_scope() as s:
            notices.issue_notices(
                session=s,
                activation_id=act,
                village_code=code,
                plan=plan,
                locale="zh-CN",
                now=NOW,
            )
    return act, plan


def outbox(s: Session, act: str, channel: Channel) -> list[Notice]:
    return list(
        s.exec(
            select(Notice)
            .where(Notice.activation_id == act, Notice.channel == channel)
            .order_by(col(Notice.id))
        )
    )


def test_sms_bodies_carry_no_signature_marks_and_count_the_signature(db_url: str) -> None:
    act, plan = respond(Level.II, drill=True)
    with session_scope() as s:
        town = s.get(Town, "621221106")
        assert town is not None
        signature = notices.sms_signature(plan, town)
        assert signature == "【成县鸡峰镇人民政府】"
        texts = outbox(s, act, Channel.SMS)
        assert texts
        for n in texts:
            assert "【" not in n.body and "】" not in n.body, n.body
            assert n.body.startswith("演练信息："), n.body  # the drill, in words, first
        longest = max(texts, key=lambda n: len(n.body))
        assert sms.signed_segments(longest.body, signature) == sms.segments(
            signature + longest.body
        )


def test_a_relocation_sms_says_why_and_not_to_come_back(db_url: str) -> None:
    act, _ = respond(Level.II)
    with session_scope() as s:
        orders = [n for n in outbox(s, act, Channel.SMS) if n.purpose == "relocation"]
        assert orders
        for n in orders:
            assert "暴雨橙色预警信号" in n.body
            assert WHY.search(n.body), n.body
            assert "未接到通知不要返回" in n.body
        for n in outbox(s, act, Channel.SMS):
            if n.purpose == "warning":
                assert "暴雨橙色预警信号" in n.body and "村社干部" in n.body


def test_a_dangerous_house_is_not_called_a_danger_zone(db_url: str) -> None:
    act, _ = respond(Level.II)
    with session_scope() as s:
        house_only = {
            r.household_code
            for r in s.exec(select(Relocation).where(Relocation.activation_id == act))
            if not r.hazard_codes and "dangerous_house" in r.reasons
        }
        orders = {
            n.recipient: n.body
            for n in outbox(s, act, Channel.SMS)
            if n.purpose == "relocation" and n.recipient in house_only
        }
        assert orders, "the sample has D-rated houses outside any hazard zone that move at Ⅱ"
        for code, body in orders.items():
            h = s.get(Household, code)
            assert h is not None
            assert "危险区" not in body and "您家处于" not in body, body
            assert f"{h.safety_rating}级危房" in body and "不安全" in body, body


def test_every_shelter_named_to_residents_states_who_is_in_charge(db_url: str) -> None:
    act, _ = respond(Level.II)
    with session_scope() as s:
        shelters = list(s.exec(select(Shelter)))
        assert all(x.kind != "卫生院" for x in shelters)  # the 卫生院 treats, it does not shelter
        managers = {x.name: s.get(Cadre, x.manager_cadre_code or "") for x in shelters}
        channels = (Channel.SMS, Channel.WECHAT, Channel.LOUDSPEAKER, Channel.DOOR_VISIT)
        named = 0
        for channel in channels:
            for n in outbox(s, act, channel):
                for name, manager in managers.items():
                    if name in n.body:
                        named += 1
                        assert manager is not None, name
                        assert f"{manager.name}" in n.body and manager.phone in n.body, (
                            channel,
                            name,
                        )
        assert named


def test_door_visit_lists_go_out_at_level_iv_when_a_danger_moves_people(db_url: str) -> None:
    act, _ = respond(Level.IV, danger="石门洞滑坡")
    with session_scope() as s:
        moving = list(s.exec(select(Relocation).where(Relocation.activation_id == act)))
        assert moving and all("danger_finding" in r.reasons for r in moving)
        lists = outbox(s, act, Channel.DOOR_VISIT)
        assert {n.recipient for n in lists} == {r.cadre_code for r in moving if r.cadre_code}
        for n in lists:
            assert "<th>转移原因</th>" in n.body and "<th>签字</th>" in n.body
            assert "<th>时间</th>" in n.body
            assert "滑坡危险区" in n.body or "滑坡威胁区" in n.body


def test_a_response_prints_only_the_cards_that_were_not_handed_out(db_url: str) -> None:
    act, _ = respond(Level.II)
    with session_scope() as s:
        moving = {
            r.household_code
            for r in s.exec(select(Relocation).where(Relocation.activation_id == act))
        }
        missing = {
            h.code
            for h in s.exec(select(Household).where(col(Household.code).in_(moving)))
            if not h.card_issued
        }
        assert missing and missing != moving
        cards = outbox(s, act, Channel.CARD)
        assert {n.recipient for n in cards} == missing
        for n in cards:
            assert "编号：" + n.recipient in n.body and "户主签名" in n.body


@pytest.mark.parametrize("drill", [False, True])
def test_the_broadcast_says_it_as_often_as_it_says(db_url: str, drill: bool) -> None:
    act, plan = respond(Level.II, drill=drill)
    with session_scope() as s:
        scripts = outbox(s, act, Channel.LOUDSPEAKER)
        assert scripts
        for n in scripts:
            times = plan.defaults.broadcast_repeats
            assert n.body.count("乡亲们请注意") == times
            assert "共三遍" in n.body and times == 3
            assert n.body.rstrip().endswith("演练结束。") is drill
        moving = [n for n in scripts if "转移到" in n.body]
        assert moving and all(re.search(r"[一二三四五六七八九十]+社的乡亲", n.body) for n in moving)


def test_the_print_folder_shows_an_sms_as_the_phone_receives_it(
    db_url: str, tmp_path: Path
) -> None:
    from sanqing.delivery.channels.file import deliver_to_files

    act, _ = respond(Level.II)
    with session_scope() as s:
        deliver_to_files(session=s, activation_id=act, out_dir=tmp_path, mark_sent=False)
    text = (tmp_path / "notices" / "sms" / "石门村.txt").read_text(encoding="utf-8")
    blocks = [b for b in text.split("收件人：") if b.strip()]
    assert blocks and all(b.splitlines()[1].startswith("【成县鸡峰镇人民政府】") for b in blocks)
    assert all(b.count("【") == 1 for b in blocks)  # the signature, nothing in the body
