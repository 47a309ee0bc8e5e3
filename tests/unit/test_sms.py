"""SMS segment arithmetic (sanqing/outbox/sms.py)."""

from __future__ import annotations

import pytest

from sanqing.outbox.sms import (
    GSM7_MULTI,
    GSM7_SINGLE,
    UCS2_MULTI,
    UCS2_SINGLE,
    clean_body,
    segments,
    signature,
    signed_segments,
)

HAN = "汛"
EMOJI = "🌧"  # outside the BMP: two UTF-16 code units


def test_empty_text_takes_no_segment() -> None:
    assert segments("") == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HAN, 1),
        (HAN * UCS2_SINGLE, 1),
        (HAN * (UCS2_SINGLE + 1), 2),
        (HAN * (2 * UCS2_MULTI), 2),
        (HAN * (2 * UCS2_MULTI + 1), 3),
        (HAN * (3 * UCS2_MULTI), 3),
    ],
)
def test_chinese_text_is_ucs2(text: str, expected: int) -> None:
    assert segments(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a", 1),
        ("a" * GSM7_SINGLE, 1),
        ("a" * (GSM7_SINGLE + 1), 2),
        ("a" * (2 * GSM7_MULTI), 2),
        ("a" * (2 * GSM7_MULTI + 1), 3),
    ],
)
def test_plain_text_is_gsm7(text: str, expected: int) -> None:
    assert segments(text) == expected


def test_one_chinese_character_makes_the_whole_text_ucs2() -> None:
    assert segments("a" * (UCS2_SINGLE - 1) + HAN) == 1
    assert segments("a" * UCS2_SINGLE + HAN) == 2


@pytest.mark.parametrize("char", sorted("^{}\\[~]|€"))
def test_extended_characters_count_two(char: str) -> None:
    assert segments(char * (GSM7_SINGLE // 2)) == 1
    assert segments(char * (GSM7_SINGLE // 2 + 1)) == 2
    assert segments("a" * (GSM7_SINGLE - 1) + char) == 2


def test_gsm7_basic_accents_stay_gsm7() -> None:
    assert segments("é" * GSM7_SINGLE) == 1
    assert segments("ê" * GSM7_SINGLE) == 3  # not in GSM 03.38: UCS-2, 160 units


def test_characters_outside_the_bmp_count_two() -> None:
    assert segments(EMOJI * (UCS2_SINGLE // 2)) == 1
    assert segments(EMOJI * (UCS2_SINGLE // 2 + 1)) == 2
    assert segments("a" + EMOJI) == 1  # forces UCS-2, 3 units
    assert segments("a" * (UCS2_SINGLE - 1) + EMOJI) == 2


# --- the platform's signature ---------------------------------------------------------------


def test_a_towns_signature_names_county_and_office_once() -> None:
    assert signature(county="成县", office="鸡峰镇人民政府") == "【成县鸡峰镇人民政府】"
    assert signature(county="成县", office="成县鸡峰镇人民政府") == "【成县鸡峰镇人民政府】"


def test_a_body_loses_the_signature_marks_the_platform_refuses() -> None:
    assert clean_body("转移到【临时】安置点") == "转移到（临时）安置点"
    assert clean_body("no marks") == "no marks"


def test_the_signature_counts_in_the_length() -> None:
    sig = signature(county="成县", office="鸡峰镇人民政府")  # 11 characters
    fits_alone = HAN * UCS2_SINGLE
    assert segments(fits_alone) == 1
    assert signed_segments(fits_alone, sig) == 2
    assert signed_segments(HAN * (UCS2_SINGLE - len(sig)), sig) == 1
    assert signed_segments(HAN * (3 * UCS2_MULTI - len(sig) + 1), sig) == 4


def test_the_plan_checks_a_configured_signature() -> None:
    from pydantic import ValidationError

    from sanqing.plans import PlanDefaults

    assert PlanDefaults(sms_signature="【成县鸡峰镇】").sms_signature == "【成县鸡峰镇】"
    for bad in ("成县鸡峰镇", "【】", "【成县【鸡峰】镇】"):
        with pytest.raises(ValidationError, match="sms_signature"):
            PlanDefaults(sms_signature=bad)
