"""The plan loader (sanqing/plans.py) and the scenario loader: bad files get clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sanqing.errors import PlanConfigError, ScenarioError
from sanqing.plans import Level, load_plan, load_plan_file
from sanqing.scenarios import load_scenario
from sanqing.settings import REPO_ROOT

FLOOD = REPO_ROOT / "config" / "plans" / "flood.yaml"


def write_variant(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(FLOOD.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "flood.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_plan_loads_with_the_documented_mapping() -> None:
    plan = load_plan("flood")
    assert plan.level_for_warning("rainstorm", "orange") == Level.II
    assert plan.level_for_warning("rainstorm", "red") == Level.I
    assert plan.level_for_warning("geological", "blue") == Level.IV
    assert plan.level("IV").relocate.moves_anyone_by_default is False
    assert plan.level("I").relocate.hazard_risk_at_least == "low"
    # the written 首报: 60 min from the event
    assert plan.level("II").reports.initial_within_minutes == 60


def test_unknown_key_is_named_with_its_path(tmp_path: Path) -> None:
    path = write_variant(
        tmp_path, lambda d: d["levels"]["II"]["relocate"].update(evacuate_all=True)
    )
    with pytest.raises(PlanConfigError) as err:
        load_plan_file(path)
    assert str(path) in str(err.value)
    assert "levels.II.relocate.evacuate_all" in str(err.value)


def test_bad_value_names_key_and_reason(tmp_path: Path) -> None:
    path = write_variant(
        tmp_path, lambda d: d["levels"]["I"]["relocate"].update(hazard_risk_at_least="extreme")
    )
    with pytest.raises(PlanConfigError, match=r"levels\.I\.relocate\.hazard_risk_at_least"):
        load_plan_file(path)


def test_missing_level_is_refused(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda d: d["levels"].pop("III"))
    with pytest.raises(PlanConfigError, match="missing: III"):
        load_plan_file(path)


def test_bad_house_rating_and_negative_deadline(tmp_path: Path) -> None:
    def change(d: dict) -> None:  # type: ignore[type-arg]
        d["levels"]["III"]["relocate"]["dangerous_house_ratings"] = ["E"]
        d["levels"]["III"]["reports"]["initial_within_minutes"] = -5

    path = write_variant(tmp_path, change)
    with pytest.raises(PlanConfigError) as err:
        load_plan_file(path)
    assert "A–D" in str(err.value) and "initial_within_minutes" in str(err.value)


def test_unknown_colour_in_the_warning_map(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda d: d["warning_levels"]["rainstorm"].update(purple="I"))
    with pytest.raises(PlanConfigError, match=r"warning_levels\.rainstorm\.purple"):
        load_plan_file(path)


def test_yaml_syntax_error_gives_line(tmp_path: Path) -> None:
    path = tmp_path / "flood.yaml"
    path.write_text("plan: flood\nlevels: [unclosed\n", encoding="utf-8")
    with pytest.raises(PlanConfigError, match="line"):
        load_plan_file(path)


def test_not_a_mapping_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "flood.yaml"
    path.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(PlanConfigError, match="mapping"):
        load_plan_file(path)
    with pytest.raises(PlanConfigError, match="no such plan file"):
        load_plan("no-such-plan")


def test_a_warning_the_plan_does_not_map_is_an_error_not_a_guess() -> None:
    plan = load_plan()
    with pytest.raises(PlanConfigError, match="typhoon"):
        plan.level_for_warning("typhoon", "red")


def test_the_default_scenario_loads() -> None:
    sc = load_scenario()
    assert sc.town == "jifeng" and sc.warning.colour == "orange"
    assert any(f.hazard == "石门洞滑坡" for f in sc.findings)


def test_a_broken_scenario_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\ntitle: y\nwarning: {identifier: W, colour: blue}\nroads: [{road: R, cleared: maybe}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match=r"bad\.yaml.*\n.*roads\.0\.cleared"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
