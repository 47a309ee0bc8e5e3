"""SMS segment arithmetic (sanqing/sms.py)."""

from __future__ import annotations

import pytest

from sanqing.sms import GSM7_MULTI, GSM7_SINGLE, UCS2_MULTI, UCS2_SINGLE, segments

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
