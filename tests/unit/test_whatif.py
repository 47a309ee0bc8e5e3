"""``sanqing whatif``: the plan's figures for a town before the rain, nothing written or sent.

The golden printouts (``tests/golden/<locale>/reports/whatif.md``) are the sample
town's what-if at level Ⅰ at 2 a.m.; after a deliberate change::

    SANQING_UPDATE_GOLDEN=1 pytest tests/unit/test_whatif.py
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from sanqing import response
from sanqing.db import session_scope
from sanqing.models import Activation, FeedRecord, Level, Notice, Relocation, TimelineEvent
from sanqing.plans import load_plan
from sanqing.registry import ensure_registry, find_town
from sanqing.settings import SUPPORTED_LOCALES
from sanqing.whatif import simulate, what_if
from tests.unit.test_templates import GOLDEN_DIR, UPDATE_GOLDEN

SAMPLE_WARNING = (
    Path(__file__).resolve().parents[1] / "data" / "feeds" / "cap" / "rainstorm_orange_zh_en.xml"
)
NIGHT = datetime(2026, 7, 12, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DAY = datetime(2026, 7, 12, 14, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
#: Templates golden-tested here (test_templates checks every template has a golden test).
WHATIF_TEMPLATES = ["reports/whatif.md"]


def _rows() -> dict[str, int]:
    """Rows of the run-state tables of the app database."""
    with session_scope() as s:
        return {
            m.__name__: s.exec(select(func.count()).select_from(m)).one()
            for m in (Activation, Relocation, Notice, TimelineEvent, FeedRecord)
        }


def _status() -> str:
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    return result.output


def test_whatif_gives_the_figures_of_the_plan_run_on_the_app_database(db_url: str) -> None:
    ensure_registry("jifeng")
    before = _rows()
    figs = what_if("jifeng", level=Level.I, at=NIGHT)
    assert _rows() == before  # nothing of it in the app database
    # The same steps run here, on this backend, give the same figures.
    here = simulate("jifeng", level=Level.I, warning=None, at=NIGHT)
    assert figs == here
    assert figs["households_to_move"] == sum(v["households"] for v in figs["villages"]) > 0
    assert figs["people_to_move"] == sum(v["people"] for v in figs["villages"])
    assert figs["shelter_shortfall_people"] == sum(v["shortfall_people"] for v in figs["villages"])
    placed = sum(s["people"] for s in figs["shelters"])
    assert placed + figs["shelter_shortfall_people"] == figs["people_to_move"]
    assert all(s["people"] <= s["capacity"] for s in figs["shelters"])
    load = figs["cadre_load"]
    assert load["most"] <= load["limit_per_cadre"] and load["households_without_cadre"] == 0


def test_at_night_danger_zones_move_at_once_and_a_lower_level_moves_no_more() -> None:
    night = what_if("jifeng", level=Level.I, at=NIGHT)
    day = what_if("jifeng", level=Level.I, at=DAY)
    assert night["urgent_households"] > 0 and day["urgent_households"] == 0
    assert night["households_to_move"] == day["households_to_move"]
    low = what_if("jifeng", level=Level.IV, at=DAY)
    assert low["households_to_move"] <= day["households_to_move"]
    assert low["level"] == "IV" and day["level"] == "I"


def test_a_warning_gives_its_level_and_villages_even_when_it_has_expired() -> None:
    figs = what_if("jifeng", warning=str(SAMPLE_WARNING))
    assert figs["warning"] == "62122141600000_20260712183000_1"
    assert figs["level"] == load_plan().level_for_warning("rainstorm", "orange").value
    assert figs["households_to_move"] > 0


def test_the_command_changes_nothing_of_a_running_response(db_url: str) -> None:
    town_code = ensure_registry("jifeng")
    plan = load_plan()
    with session_scope() as s:
        response.activate_plan(
            session=s,
            town=find_town(s, town_code),
            plan=plan,
            level=Level.III,
            warning=None,
            drill=False,
        )
    status, rows = _status(), _rows()
    result = CliRunner().invoke(app, ["whatif", "--town", "jifeng", "--level", "I", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["level"] == "I"
    assert _status() == status and _rows() == rows
    assert json.loads(status.splitlines()[0])["level"] == "III"


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["--town", "nowhere", "--level", "I"], "unknown town 'nowhere'"),
        (["--town", "jifeng"], "give --level or --warning"),
        (["--town", "jifeng", "--level", "I", "--warning", "x.xml"], "give --level or --warning"),
        (["--town", "jifeng", "--warning", "/no/such/warning.xml"], "/no/such/warning.xml"),
    ],
)
def test_a_bad_question_is_refused_in_one_line(args: list[str], why: str) -> None:
    result = CliRunner().invoke(app, ["whatif", *args])
    assert result.exit_code == 2
    assert why in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_printout_matches_its_golden_file(locale: str) -> None:
    args = ["whatif", "--town", "jifeng", "--level", "I", "--at", "2026-07-12T02:00"]
    result = CliRunner().invoke(app, [*args, "--locale", locale])
    assert result.exit_code == 0, result.output
    golden = GOLDEN_DIR / locale / "reports" / "whatif.md"
    if UPDATE_GOLDEN:
        golden.write_text(result.output, encoding="utf-8")
    assert result.output == golden.read_text(encoding="utf-8"), (
        f"the what-if printout differs from {golden}; if meant, rerun with SANQING_UPDATE_GOLDEN=1"
    )
