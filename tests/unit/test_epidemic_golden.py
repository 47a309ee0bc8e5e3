"""Every epidemic notice and report, as the sample drill writes them, against its golden file.

The drill's steps run on the sample town (no Prefect); for each template the first
notice written with it (by id) is compared with ``tests/golden/<locale>/<template>``.
After a deliberate change: ``SANQING_UPDATE_GOLDEN=1 pytest tests/unit/test_epidemic_golden.py``,
then read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlmodel import col, select

from sanqing.db import session_scope
from sanqing.epidemic import steps, support
from sanqing.epidemic.scenario import load_epidemic_scenario
from sanqing.models import Notice, Report
from sanqing.registry import ensure_registry
from sanqing.settings import SUPPORTED_LOCALES

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"
UPDATE_GOLDEN = os.environ.get("SANQING_UPDATE_GOLDEN") == "1"

#: template → (channel, purpose) of the notices it writes
NOTICES = {
    "notices/epidemic/arrangement.txt": ("task_list", "arrangement"),
    "notices/epidemic/followups.txt": ("task_list", "followups"),
    "notices/epidemic/symptoms.sms.txt": ("sms", "symptoms"),
    "notices/epidemic/shift.sms.txt": ("sms", "duty_shift"),
    "notices/epidemic/ride.sms.txt": ("sms", "ride"),
    "notices/epidemic/driver.txt": ("task_list", "rides"),
    "notices/epidemic/publicity.wechat.txt": ("wechat", "publicity"),
    "notices/epidemic/publicity.loudspeaker.txt": ("loudspeaker", "publicity"),
    "notices/epidemic/banners.txt": ("task_list", "banners"),
    "notices/epidemic/door_knock.html": ("door_visit", "door_knock"),
}
REPORTS = ("reports/epidemic_daily.txt", "reports/epidemic_daily.html")
#: every epidemic template (test_templates checks that no template goes untested)
EPIDEMIC_TEMPLATES = (*NOTICES, *REPORTS)


def run_drill(locale: str) -> str:
    """The sample drill's steps, in ``locale``; the activation id."""
    sc = load_epidemic_scenario("epidemic-returnees")
    ensure_registry(sc.town)
    with session_scope() as s:
        steps.import_town_register(s, town=sc.town, file="registrations.csv", now=sc.starts)
        act = steps.activate(
            s, town=sc.town, level=sc.level, drill=True, locale=locale, now=sc.starts
        )
    aid, a, days = act.activation_id, sc.answers, sc.days
    with session_scope() as s:
        steps.screen_arrivals(s, aid)
        steps.follow_up(s, aid, days=days, locale=locale, answers=a)
        support.publicize(s, aid, locale=locale, answers=a)
        support.staff_points(s, aid, days=days, locale=locale, answers=a)
        support.supply_points(s, aid, days=days, answers=a)
        support.drive_to_vaccination(s, aid, locale=locale, answers=a)
        support.report_days(s, aid, days=days, locale=locale)
    return aid


def check(golden: Path, text: str) -> None:
    if UPDATE_GOLDEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(text.encode("utf-8"))
    assert golden.exists(), f"{golden} is missing: run with SANQING_UPDATE_GOLDEN=1 to create it"
    assert text == golden.read_bytes().decode("utf-8"), (
        f"{golden} differs; if the change is meant, rerun with SANQING_UPDATE_GOLDEN=1 "
        "and review the diff"
    )


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_epidemic_notices_and_reports_match_their_golden_files(db_url: str, locale: str) -> None:
    aid = run_drill(locale)
    with session_scope() as s:
        for name, (channel, purpose) in NOTICES.items():
            first = s.exec(
                select(Notice)
                .where(
                    Notice.activation_id == aid,
                    Notice.channel == channel,
                    Notice.purpose == purpose,
                )
                .order_by(col(Notice.id))
            ).first()
            assert first is not None, f"no {channel}/{purpose} notice written"
            assert first.locale == locale
            check(GOLDEN_DIR / locale / name, first.body)
        first_day = s.get(Report, f"{aid}:daily:1")
        zero_day = s.get(Report, f"{aid}:daily:3")
        assert first_day is not None and zero_day is not None
        check(GOLDEN_DIR / locale / "reports/epidemic_daily.txt", first_day.text)
        check(GOLDEN_DIR / locale / "reports/epidemic_daily.html", first_day.html)
        check(GOLDEN_DIR / locale / "reports/epidemic_daily-zero.txt", zero_day.text)
