"""三情叠加 in the flood's notices and reports: both instructions, both situations.

The flood's golden files stay as they are (no epidemic: nothing changes); these pin
the same templates rendered while the town runs the epidemic plan, in
``tests/golden/<locale>/overlay/``. Rewrite them with ``SANQING_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

from typing import Any

import pytest

from sanqing.outbox.rendering import render
from sanqing.outbox.sms import segments
from sanqing.privacy import contains_personal_data
from sanqing.settings import SUPPORTED_LOCALES
from tests.unit.test_templates import (
    GOLDEN_DIR,
    MAX_SMS_SEGMENTS,
    MOVES,
    SIGNATURE,
    UPDATE_GOLDEN,
    card_ctx,
    move_ctx,
    notice_context,
    report_context,
    worst_case_sms_contexts,
)

EPIDEMIC = {"level": "III", "name": "疫情防控Ⅲ级响应"}
#: What ``reporting.overlay.overlay_figures`` gives: 3 of 4 monitored people moved, 2 in
#: isolation places, 1 without one (reported, never placed among others).
OVERLAY = {
    "epidemic_level": "III",
    "epidemic_drill": False,
    "monitored_in_town": 9,
    "monitored_people_to_move": 4,
    "monitored_people_moved": 3,
    "in_isolation_places": 2,
    "isolation_households": 2,
    "isolation_places_used": 5,
    "isolation_shortfall_people": 1,
    "with_relatives": 0,
    "mixed": 0,
}
NOTICES = (
    "notices/relocation.sms.txt",
    "notices/group.wechat.txt",
    "notices/broadcast.loudspeaker.txt",
    "notices/door_visit.html",
    "notices/card.html",
)
REPORTS = ("reports/initial.txt", "reports/follow_up.txt", "reports/final.txt")
#: Both instructions, as each notice says them.
SAYS = {
    "zh-CN": {
        "notices/relocation.sms.txt": "戴口罩、单独安置",
        "notices/group.wechat.txt": "不聚集、戴口罩",
    },
    "en": {
        "notices/relocation.sms.txt": "Wear a mask; stay apart",
        "notices/group.wechat.txt": "no gatherings",
    },
}


def apart(raw: dict[str, Any]) -> dict[str, Any]:
    return raw | {"isolation": True}


def overlay_notice(name: str, locale: str, *, drill: bool = False) -> dict[str, Any]:
    ctx = notice_context(name, locale, drill=drill) | {"epidemic": EPIDEMIC}
    if name == "notices/relocation.sms.txt":
        ctx["move"] = move_ctx(apart(MOVES[0]), locale)
    elif name == "notices/door_visit.html":
        ctx["moves"] = [move_ctx(apart(MOVES[0]), locale), move_ctx(MOVES[1], locale)]
    elif name == "notices/card.html":
        ctx["card"] = card_ctx(apart(MOVES[0]), locale)
    return ctx


def check_golden(text: str, locale: str, name: str) -> None:
    golden = GOLDEN_DIR / locale / "overlay" / name
    if UPDATE_GOLDEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(text.encode("utf-8"))
    assert golden.exists(), f"{golden} is missing: run with SANQING_UPDATE_GOLDEN=1 to create it"
    assert text == golden.read_bytes().decode("utf-8"), f"{locale}/{name} differs from {golden}"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("name", NOTICES)
def test_notices_under_an_epidemic_match_golden_files(name: str, locale: str) -> None:
    text = render(name, locale=locale, **overlay_notice(name, locale))
    check_golden(text, locale, name)
    plain = render(name, locale=locale, **notice_context(name, locale))
    assert text != plain  # the epidemic always adds its instruction
    if name in SAYS[locale]:
        assert SAYS[locale][name] in text


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_relocation_sms_apart_still_fits_in_three_segments(locale: str) -> None:
    name = "notices/relocation.sms.txt"
    for ctx in worst_case_sms_contexts(name, locale):
        ctx["move"] = ctx["move"] | {"isolation": True}
        ctx["epidemic"] = EPIDEMIC
        text = render(name, locale=locale, **ctx)
        assert segments(SIGNATURE + text) <= MAX_SMS_SEGMENTS, text


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("name", REPORTS)
def test_reports_carry_both_situations(name: str, locale: str) -> None:
    kind = name.removeprefix("reports/").removesuffix(".txt")
    ctx = report_context(locale, kind=kind)
    ctx["f"] = ctx["f"] | {"overlay": OVERLAY}
    text = render(name, locale=locale, **ctx)
    check_golden(text, locale, name)
    assert not contains_personal_data(text)
    plain = render(name, locale=locale, **report_context(locale, kind=kind))
    assert text != plain and plain in text.replace(paragraph(text, locale), "")


def paragraph(text: str, locale: str) -> str:
    """The epidemic's paragraph of a report (with its line end)."""
    start = "疫情叠加" if locale == "zh-CN" else "Epidemic"
    (line,) = [ln for ln in text.splitlines(keepends=True) if start in ln]
    return line if locale == "zh-CN" else line + "\n"  # English: a blank line after it
