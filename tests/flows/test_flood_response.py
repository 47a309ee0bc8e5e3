"""The flood plan as a flow under Prefect's test harness: outcome, idempotence, privacy."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from flows.flood_response import flood_response
from sanqing.db import session_scope
from sanqing.models import (
    Activation,
    DutyShift,
    Escalation,
    HazardThreat,
    Household,
    Inspection,
    Notice,
    Relocation,
    Report,
    RoadIncident,
    Shelter,
    TimelineEvent,
)
from sanqing.privacy import contains_personal_data
from sanqing.reporting import summarize
from sanqing.response import OCCUPYING
from sanqing.scenarios import load_scenario

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]

RUN_TABLES = (
    Activation,
    DutyShift,
    Inspection,
    Relocation,
    RoadIncident,
    Notice,
    Report,
    TimelineEvent,
)


def run_scenario(**overrides: Any) -> dict[str, Any]:
    sc = load_scenario()
    params: dict[str, Any] = dict(
        town=sc.town,
        level=sc.level,
        warning=sc.warning,
        drill=True,
        findings=sc.findings,
        roads=sc.roads,
        scenario=sc.name,
    )
    params.update(overrides)
    return flood_response(**params)


def snapshot() -> dict[str, Any]:
    """Row counts per run-state table and a digest of every notice and relocation."""
    with session_scope() as s:
        counts = {t.__name__: s.exec(select(func.count()).select_from(t)).one() for t in RUN_TABLES}
        digest = hashlib.sha256()
        for n in s.exec(select(Notice).order_by(Notice.id)):
            digest.update(f"{n.id}|{n.body}|{n.status}".encode())
        for r in s.exec(select(Relocation).order_by(Relocation.id)):
            digest.update(
                f"{r.id}|{r.shelter_code}|{r.cadre_code}|{r.status}|{r.priority}".encode()
            )
    return {"counts": counts, "digest": digest.hexdigest()}


def test_drill_runs_the_five_steps_and_the_figures_agree_with_the_database(db_url: str) -> None:
    figures = run_scenario()
    assert figures["level"] == "II"  # orange rainstorm → level II by the plan
    assert figures["villages"] == 6
    with session_scope() as s:
        rels = list(s.exec(select(Relocation)))
        assert len(rels) == figures["households_to_relocate"] > 0
        safe = ("in_shelter", "moved", "with_relatives", "removed")
        assert figures["households_relocated"] == sum(1 for r in rels if r.status in safe)
        assert figures["people_relocated"] == sum(r.people for r in rels if r.status in safe)
        assert figures["shelter_shortfall_people"] == sum(r.people for r in rels if r.shortfall)
        # every relocated household has a cadre, and either a shelter or a recorded shortfall
        assert all(r.cadre_code for r in rels)
        assert all((r.shelter_code is None) == r.shortfall for r in rels)
        # shelters are never over capacity
        cap = {sh.code: sh.capacity for sh in s.exec(select(Shelter))}
        used: dict[str, int] = {}
        for r in rels:
            if r.shelter_code and r.status in OCCUPYING:  # 投亲靠友 gave its place back
                used[r.shelter_code] = used.get(r.shelter_code, 0) + r.people
        assert all(used[c] <= cap[c] for c in used)
        # the danger found at 石门洞 moves everyone it threatens
        insp = list(s.exec(select(Inspection)))
        danger = {i.hazard_code for i in insp if i.status == "danger"}
        # two before the rain (石门洞, the rockfall road), one on the patrol in the rain (鸡心大沟)
        assert len(danger) == figures["hazard_points_dangerous"] == 3
        assert {i.phase for i in insp} == {"before", "during"}
        in_rain = [i for i in insp if i.phase == "during" and i.status == "danger"]
        assert len(in_rain) == 1
        # 雨中除险: the households 鸡心大沟 threatens moved at once, before anyone approved
        threatened = set(
            s.exec(
                select(HazardThreat.household_code).where(
                    HazardThreat.hazard_code == in_rain[0].hazard_code
                )
            )
        )
        by_hh = {r.household_code: r for r in rels}
        assert threatened <= set(by_hh)
        assert all(by_hh[h].urgent and "danger_finding" in by_hh[h].reasons for h in threatened)
        # the blocked road got a machine and was reopened
        roads = list(s.exec(select(RoadIncident)))
        assert len(roads) == figures["roads_blocked"] == 1
        assert roads[0].status == "reopened" and roads[0].machine_code
        # the initial report, then a follow-up with the roll call; drill-marked, no personal data
        reports = list(s.exec(select(Report).order_by(Report.seq)))
        assert [r.kind for r in reports] == ["initial", "follow_up"]
        heads = {h.head_name for h in s.exec(select(Household))}
        for report in reports:
            assert "【演练】" in report.text
            assert not contains_personal_data(report.text + report.html + str(report.payload))
            assert not any(name in report.text for name in heads if len(name) >= 2)
        assert "拒绝转移" not in reports[0].text
        # 应撤必撤: 马有喜 refused the secretary and the town leader, and was removed (带离)
        refused = next(r for r in rels if r.removed_by)
        assert refused.status == "removed" and "谢虎建" in refused.removed_by
        steps = s.exec(
            select(Escalation.kind).where(Escalation.household_code == refused.household_code)
        ).all()
        assert sorted(steps) == ["removal", "roll_call", "town_leader"]
        # the unreachable household was found with relatives: it is safe, and went no higher
        found = next(r for r in rels if r.status == "with_relatives")
        assert s.exec(
            select(Escalation.kind).where(Escalation.household_code == found.household_code)
        ).all() == ["roll_call"]
        # every notice is marked as a drill
        notices = list(s.exec(select(Notice)))
        assert notices and all("演练" in n.body for n in notices)
        by_channel: dict[str, int] = {}
        for n in notices:
            if n.status != "superseded":  # a village's lists, reissued after the approval
                by_channel[n.channel] = by_channel.get(n.channel, 0) + 1
        assert figures["notices_by_channel"] == by_channel
        # one relocation order per moving household with a phone, a warning for the rest;
        # the villages 石门洞 threatens were told at once, before the approval: who moved
        # only after it had the warning first, then the order. SMS up the chain for the
        # refusing and the unreachable household, and to the commander.
        phones = set(s.exec(select(Household.code).where(Household.phone.is_not(None))))
        moving = {r.household_code for r in rels}
        sms = [n for n in notices if n.channel == "sms"]
        orders = {n.recipient for n in sms if n.purpose == "relocation"}
        warned = [n.recipient for n in sms if n.purpose == "warning"]
        assert orders == moving & phones and len(warned) == len(set(warned))
        assert set(warned) >= phones - moving and set(warned) <= phones
        # told before their order: the rest of the villages told at once before the approval
        # (石门洞), and those the patrol in the rain moved (鸡心大沟), warned with everyone
        rain_points = {i.hazard_code for i in in_rain}
        first_wave = {
            r.village_code for r in rels if r.urgent and not rain_points & set(r.hazard_codes)
        }
        waited = {r.household_code for r in rels if r.village_code in first_wave and not r.urgent}
        in_the_rain = {r.household_code for r in rels if rain_points & set(r.hazard_codes)}
        early = set(warned) - (phones - moving)
        assert waited & phones <= early <= (waited | in_the_rain) and waited
        escalations = [n for n in notices if n.purpose == "escalation"]
        assert {n.channel for n in escalations} == {"sms", "task_list"}
        # the commander is told twice: 石门洞 before the approval, 鸡心大沟 in the rain
        assert [n.channel for n in notices if n.purpose == "urgent_moves"] == ["sms", "sms"]
        # up the chain: both secretaries, then the town leader (马有喜), then his 带离
        assert sum(1 for n in escalations if n.channel == "sms") == 4
        assert by_channel["sms"] == len(phones) + len(early) + 4 + 2
        # cards were handed out before the season: only the missing ones are printed
        missing = {h.code for h in s.exec(select(Household)) if not h.card_issued}
        assert by_channel["card"] == len([r for r in rels if r.household_code in missing]) > 0
        assert summarize(session=s, activation_id=figures["activation_id"]) == figures


def test_running_the_same_activation_again_changes_nothing(db_url: str) -> None:
    run_scenario()
    first = snapshot()
    run_scenario()
    assert snapshot() == first


def test_escalation_to_level_i_extends_the_same_activation_without_duplicates(db_url: str) -> None:
    ii = run_scenario()
    before = snapshot()["counts"]
    i = run_scenario(level="I")
    assert i["activation_id"] == ii["activation_id"]
    assert i["level"] == "I"
    assert i["households_to_relocate"] > ii["households_to_relocate"]
    with session_scope() as s:
        assert s.exec(select(func.count()).select_from(Activation)).one() == 1
        ids = list(s.exec(select(Relocation.household_code)))
        assert len(ids) == len(set(ids))
        # the county hears of the change: the initial report stays, a follow-up (续报一) tells the new figures
        reports = list(s.exec(select(Report).order_by(Report.seq)))
        # (续报一 after the level-II roll call, 续报二 with the level-I orders, 续报三 after its roll call)
        assert [(r.kind, r.seq) for r in reports] == [
            ("initial", 0),
            ("follow_up", 1),
            ("follow_up", 2),
            ("follow_up", 3),
        ]
        assert "续报二" in reports[2].text
        # a 续报 gives what changed: the households the level-I orders added
        added = i["households_to_relocate"] - ii["households_to_relocate"]
        assert f"新增转移对象{added}户" in reports[2].text
        assert "应转移" not in reports[2].text  # no repeat of the first report
        assert reports[2].payload["figures"]["level"] == "I"
        assert reports[1].payload["figures"]["level"] == "II"
        # every cadre's current door-visit list names every household they must move
        heads = {h.code: h.head_name for h in s.exec(select(Household))}
        current = {
            n.recipient: n.body
            for n in s.exec(
                select(Notice).where(Notice.channel == "door_visit", Notice.status != "superseded")
            )
        }
        for r in s.exec(select(Relocation)):
            assert heads[r.household_code] in current[r.cadre_code], r.household_code
        assert (
            s.exec(
                select(func.count()).select_from(Notice).where(Notice.status == "superseded")
            ).one()
            > 0
        )
    assert snapshot()["counts"]["Relocation"] > before["Relocation"]
    # an older, lower trigger run again does not lower the level
    assert run_scenario(level="II")["level"] == "I"


def test_the_flow_logs_carry_no_phone_or_id_number(db_url: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    state = flood_response(
        town="jifeng", level="III", drill=True, warning=load_scenario().warning, return_state=True
    )
    run_id = state.state_details.flow_run_id
    APILogWorker.drain_all(timeout=10)  # logs go to the API in batches: send them first
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
    assert logs, "the flow should have logged its steps"
    assert not any(contains_personal_data(log.message) for log in logs)


def test_an_unknown_hazard_in_the_findings_fails_with_its_name(db_url: str) -> None:
    from sanqing.scenarios import FindingInput, RoadReport

    with pytest.raises(Exception, match="不存在的隐患点") as err:
        run_scenario(
            findings=[FindingInput(hazard="不存在的隐患点", status="danger")],
            roads=[RoadReport(road="成康公路河坝段K24+100—K24+600")],  # one space missing
        )
    assert "roads[0]" in str(err.value)  # every bad entry is named at once
    with session_scope() as s:  # and nothing was started
        assert s.exec(select(func.count()).select_from(Activation)).one() == 0


def test_the_run_shows_progress_relocations_and_the_report_without_personal_data(
    db_url: str,
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    sc = load_scenario()
    state = flood_response(
        town=sc.town,
        warning=sc.warning,
        drill=True,
        findings=sc.findings,
        roads=sc.roads,
        return_state=True,
    )
    run_id = state.state_details.flow_run_id
    # the run's round is done, the response is not: the state says so, not "Completed"
    assert state.is_completed() and state.name == "本轮完成·响应继续"
    assert state.result()["status"] == "active"
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    by_type = {a.type: a for a in artifacts}
    assert set(by_type) >= {"progress", "table", "markdown"}
    assert float(by_type["progress"].data) == 100.0
    table = by_type["table"].data
    rows = json.loads(table) if isinstance(table, str) else table
    assert len(rows) == 6 and sum(r["应转移户"] for r in rows) > 0
    markdown = str(by_type["markdown"].data)
    # the current report: the follow-up written after the (simulated) roll call
    assert "续报一" in markdown and not contains_personal_data(markdown + str(table))
