"""The epidemic plan file: loaded and checked, wrong files refused naming file and key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from sanqing.epidemic.plan import load_epidemic_plan
from sanqing.errors import PlanConfigError
from sanqing.models import Level
from sanqing.rules.arrivals import Arrival, ArrivalRisk, action_for, risk_of
from sanqing.settings import REPO_ROOT

SHIPPED = REPO_ROOT / "config" / "plans" / "epidemic.yaml"


def test_the_shipped_plan_loads_and_its_measures_class_an_arrival() -> None:
    plan = load_epidemic_plan(SHIPPED)
    assert set(plan.levels) == set(Level)
    assert plan.duty.rules().max_hours_per_day == 12 and plan.shelter_capacity_factor == 0.5
    came = Arrival("420106003", left_on=date(2026, 7, 10), arrived_on=date(2026, 7, 11))
    risk = risk_of(came, plan.areas(), lookback_days=plan.lookback_days)
    assert risk == ArrivalRisk.HIGH
    action = action_for(risk, plan.levels[Level.II].measures(), came.arrived_on)
    assert (action.monitoring_days, action.test) == (14, True)
    # stricter levels never monitor a class for fewer days
    for cls in ArrivalRisk:
        days = [plan.levels[lv].monitoring_days.get(cls, 0) for lv in Level]
        assert days == sorted(days), cls


def write(tmp_path: Path, edit: object) -> Path:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    edit(data)  # type: ignore[operator]
    path = tmp_path / "epidemic.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda d: d["levels"].pop("I"), "missing: I"),
        (lambda d: d["levels"]["II"].update(monitoring_days={"extreme": 7}), "levels.II"),
        (lambda d: d["levels"]["IV"].update(monitoring_days={"low": 7}), "not screened: low"),
        (lambda d: d["duty"].update(shift_hours=0), "duty.shift_hours"),
        (lambda d: d.update(shelter_capacity_factor=1.5), "shelter_capacity_factor"),
        (lambda d: d["risk_areas"][0].update(code="湖北"), "risk_areas.0.code"),
        (lambda d: d["risk_areas"][2].update(until="2026-01-01"), "until 2026-01-01 before"),
        (lambda d: d.update(colour="red"), "colour"),
    ],
)
def test_a_wrong_plan_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, edit: object, said: str
) -> None:
    path = write(tmp_path, edit)
    with pytest.raises(PlanConfigError) as err:
        load_epidemic_plan(path)
    assert str(path) in str(err.value) and said in str(err.value)


def test_a_missing_plan_file_says_where_plans_live(tmp_path: Path) -> None:
    with pytest.raises(PlanConfigError, match="no such plan file"):
        load_epidemic_plan(tmp_path / "epidemic.yaml")
