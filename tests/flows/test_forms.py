"""The UI forms speak the coordinator's language (no server needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.utilities.callables import parameter_schema
from sqlmodel import select

from flows.after_rain_patrol import after_rain_patrol
from flows.control import ApprovalInput, PatrolInput, RollCallInput
from flows.flood_response import flood_response
from sanqing.forms import code_in
from sanqing.registry import town_choices, town_names


def test_flood_response_form_fields_have_chinese_titles_and_choices() -> None:
    schema = parameter_schema(flood_response.fn).model_dump()
    props = schema["properties"]
    titles = {name: p.get("title") for name, p in props.items()}
    assert titles["town"] == "乡镇" and titles["level"] == "响应级别" and titles["drill"] == "演练"
    assert all(t and t != name for name, t in titles.items())  # every field titled, not just named
    # the level is tabs of Chinese names; a tab sets its Level code (its default): without
    # it the UI showed Ⅱ级 chosen and started the run with no level (seen in Chromium)
    assert props["level"]["oneOf"] == [
        {"type": "string", "const": "IV", "default": "IV", "title": "Ⅳ级"},
        {"type": "string", "const": "III", "default": "III", "title": "Ⅲ级"},
        {"type": "string", "const": "II", "default": "II", "title": "Ⅱ级"},
        {"type": "string", "const": "I", "default": "I", "title": "Ⅰ级"},
        {"type": "null", "title": "按预警确定"},
    ]
    assert [o.get("title") for o in props["phase"]["oneOf"]][:3] == [
        "雨前排查",
        "雨中除险",
        "雨后巡查",
    ]
    # the town is picked from the registry, once, by its Chinese name, and must be given
    assert props["town"]["enum"] == ["鸡峰镇"] and "default" not in props["town"]
    assert schema["required"] == ["town"] and props["drill"]["default"] is False
    # the description the coordinator reads in the UI is the flow's docstring, in Chinese first
    assert flood_response.description and flood_response.description.startswith("防汛应急响应")


def test_the_town_picker_lists_every_configured_town_once(tmp_path: Path) -> None:
    for key, code, name in (("b", "621221107", "小川镇"), ("a", "621221106", "鸡峰镇")):
        (tmp_path / key).mkdir()
        (tmp_path / key / "town.yaml").write_text(
            yaml.safe_dump({"code": code, "key": key, "name": name}, allow_unicode=True),
            encoding="utf-8",
        )
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "town.yaml").write_text(": : :", encoding="utf-8")
    # one entry per town, by name (in directory order); a broken file keeps its key
    assert town_choices(tmp_path) == ["鸡峰镇", "小川镇", "broken"]
    # a run started with a key or code is named for the town: flood-小川镇-…
    names = town_names(tmp_path)
    assert names["b"] == names["621221107"] == names["小川镇"] == "小川镇" and "broken" not in names


def test_every_deployment_form_is_titled_in_chinese_and_quick_run_has_what_it_needs() -> None:
    from prefect.utilities.schema_tools import validate

    from flows.deployments import deployments

    for d in deployments():
        schema = d._parameter_openapi_schema.model_dump()
        for name, prop in schema["properties"].items():
            title = prop.get("title", "")
            assert title != name and any("\u4e00" <= c <= "\u9fff" for c in title), (d.name, name)
        # Quick run starts with the deployment's parameters: every required one is there,
        # or the server refuses the run with "required" (acknowledge: the cadre must be named;
        # county-batch: started by the county run)
        missing = set(schema.get("required", [])) - set(d.parameters)
        # what Quick run sends passes the server's check of the schema (III is a const)
        assert not validate(d.parameters, schema, ignore_required=True), d.name
        assert missing <= {"cadre", "towns"}, (d.name, missing)
        assert not missing or d.name in {"acknowledge", "county-batch"}, (d.name, missing)
    by_name = {d.name: d for d in deployments()}
    assert by_name["flood-response"].parameters == {"town": "鸡峰镇", "level": "III"}
    assert by_name["drill"].flow_name == "drill"


def test_the_answer_forms_are_titled_in_chinese() -> None:
    for model, fields in (
        (ApprovalInput, {"approve": "是否批准转移", "name": "审批人"}),
        (RollCallInput, {"villages": "各村点名"}),
        (PatrolInput, {"all_clear": "巡查确认安全", "name": "巡查负责人"}),
    ):
        props = model.model_json_schema()["properties"]
        assert {k: props[k]["title"] for k in fields} == fields
    roll = RollCallInput.model_json_schema()["$defs"]["VillageRollCall"]["properties"]
    assert roll["village"]["title"] == "村" and roll["others"]["title"] == "其余各户"
    patrol = parameter_schema(after_rain_patrol.fn).model_dump()["properties"]
    assert patrol["town"]["title"] == "乡镇" and patrol["reason"]["title"] == "结束原因"


def test_the_epidemic_forms_are_titled_in_chinese() -> None:
    from flows.epidemic_response import epidemic_response, followup_answers

    schema = parameter_schema(epidemic_response.fn).model_dump()
    titles = {name: p.get("title") for name, p in schema["properties"].items()}
    assert titles == {
        "town": "乡镇",
        "level": "响应级别",
        "drill": "演练",
        "locale": "语言",
        "scenario": "演练脚本",
        "days": "天数",
    }
    assert epidemic_response.description and epidemic_response.description.startswith("疫情防控")
    answers = parameter_schema(followup_answers.fn).model_dump()
    assert answers["properties"]["answers"]["title"] == "随访结果"
    row = answers["definitions"]["FollowUpReport"]["properties"]
    assert {k: v["title"] for k, v in row.items()} == {
        "village": "村",
        "person": "姓名",
        "answer": "随访结果",
        "note": "情况",
    }
    assert row["answer"]["enum"] == ["健康", "有症状", "联系不上"]


def _choices(schema: dict[str, Any], model: str, field: str) -> dict[str, str]:
    """Code → label of a choice: tabs (oneOf, each branch's default its code) or a select
    of labels ending with the code (a long list: households)."""
    prop = schema["$defs"][model]["properties"][field]
    if "enum" in prop:
        return {code_in(text): text for text in prop["enum"]}
    assert all(o["default"] == o["const"] for o in prop["oneOf"])  # a tab sets its code
    return {o["const"]: o["title"] for o in prop["oneOf"]}


@pytest.mark.flow
@pytest.mark.usefixtures("prefect_harness")
def test_a_refused_roll_call_asks_again_in_chinese_and_keeps_what_was_typed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect import flow

    from flows import people

    figures = flood_response(town="jifeng", level="II")  # in-process: nobody is asked here
    act_id = figures["activation_id"]
    asked: list[tuple[dict[str, Any], str]] = []

    def answer(form: Any, *, description: str, timeout_s: int, key: str) -> Any:
        schema = form.model_json_schema()
        asked.append((schema, description))
        villages = _choices(schema, "VillageRollCall", "village")
        households = _choices(schema, "HouseholdRollCall", "household")
        first_village = next(iter(villages))
        first = next(
            h for h, text in households.items() if text.startswith(villages[first_village])
        )
        picked = households[first]  # as the select sends it: the label, code in brackets
        listed = {"household": picked, "status": "removed"}  # 带离 without who: refused
        if len(asked) == 2:
            listed = {"household": picked, "status": "refused", "note": "不愿离开"}
        rest = [{"village": v, "others": "in_shelter"} for v in villages if v != first_village]
        return form(villages=[{"village": first_village, "households": [listed]}, *rest])

    monkeypatch.setattr(people, "ask", answer)
    recorded = flow(name="roll-call-test")(people.ask_roll_calls)(act_id, plan="flood")
    assert recorded and len(asked) == 2
    (schema, _), (again, description) = asked
    # statuses are Chinese choices holding the codes; villages and households from the registry
    assert _choices(schema, "HouseholdRollCall", "status")["unreachable"] == "联系不上"
    assert set(_choices(schema, "VillageRollCall", "village").values()) >= {"石门村", "河坝村"}
    assert all("（" in t for t in _choices(schema, "HouseholdRollCall", "household").values())
    # the second form says what was wrong, in Chinese and by position, and keeps the answer
    assert "第1个村 第1户：已带离须填写带离负责人" in description
    assert "villages[" not in description and "上次回报未记录" in description
    typed = again["properties"]["villages"]["default"]
    assert typed[0]["households"][0]["status"] == "removed"
    assert {v["others"] for v in typed[1:]} == {"in_shelter"}


@pytest.mark.flow
@pytest.mark.usefixtures("prefect_harness")
def test_the_patrol_form_counts_refused_and_unreachable_as_not_verified() -> None:
    from flows.after_rain_patrol import patrol_question
    from sanqing import response
    from sanqing.answers import HouseholdRollCall, RollCallStatus, VillageRollCall
    from sanqing.db import session_scope
    from sanqing.models import Activation, Relocation

    act_id = flood_response(town="jifeng", level="II")["activation_id"]
    with session_scope() as s:
        act = s.get(Activation, act_id)
        assert act is not None
        rels = s.exec(select(Relocation).where(Relocation.activation_id == act_id)).all()
        first, second = (
            rels[0],
            next(r for r in rels if r.village_code == rels[0].village_code and r is not rels[0]),
        )
        response.record_roll_call(
            s,
            activation_id=act_id,
            roll_calls=[
                VillageRollCall(
                    village=v,
                    others="in_shelter",
                    households=[
                        HouseholdRollCall(
                            household=first.household_code, status=RollCallStatus.REFUSED
                        ),
                        HouseholdRollCall(
                            household=second.household_code, status=RollCallStatus.UNREACHABLE
                        ),
                    ]
                    if v == first.village_code
                    else [],
                )
                for v in act.village_codes
            ],
        )
    text = patrol_question(act_id, "雨情结束")
    assert "仍未核实安全的转移户：2户（未回报0户，拒绝转移1户，联系不上1户）" in text
    assert "Ⅱ级" in text
