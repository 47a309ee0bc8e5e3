"""Masking of residents' personal data (sanqing/privacy.py)."""

from __future__ import annotations

import pytest

from sanqing.privacy import contains_personal_data, mask_id_number, mask_phone, mask_text

PHONE = "18516829918"
ID_NUMBER = "62122119680810853X"
DUTY_PHONE = "0939-3239838"


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        (PHONE, "185****9918"),
        ("13912345678", "139****5678"),
        (DUTY_PHONE, "********9838"),  # not a mobile: only the last 4 characters stay
        ("12345678901", "*******8901"),  # 12… is no mobile prefix
        ("110", "110"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone(phone: str | None, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (ID_NUMBER, "621221***********X"),
        ("621221199412212975", "621221***********5"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_id_number(value: str | None, masked: str) -> None:
    assert mask_id_number(value) == masked


def test_mask_text_masks_phones_and_id_numbers() -> None:
    text = f"户主杜忠有，电话{PHONE}，身份证号{ID_NUMBER}，值班电话{DUTY_PHONE}。"
    assert mask_text(text) == (
        f"户主杜忠有，电话185****9918，身份证号621221***********X，值班电话{DUTY_PHONE}。"
    )


def test_mask_text_handles_lowercase_x_and_several_numbers() -> None:
    text = f"{PHONE} 13993912345 {ID_NUMBER.lower()}"
    assert mask_text(text) == "185****9918 139****2345 621221***********x"


def test_mask_text_leaves_longer_digit_runs_alone() -> None:
    # A 12-digit village code or a timestamp is not a phone number.
    for text in ("621221106201", "20260712183000", "62122141600000_20260712183000"):
        assert mask_text(text) == text


def test_mask_text_is_idempotent() -> None:
    once = mask_text(f"电话{PHONE} 身份证{ID_NUMBER}")
    assert mask_text(once) == once


@pytest.mark.parametrize(
    "text",
    [PHONE, f"联系张桂芳{PHONE}", ID_NUMBER, f"身份证：{ID_NUMBER.lower()}。", f"tel:{PHONE}"],
)
def test_contains_personal_data(text: str) -> None:
    assert contains_personal_data(text)
    assert not contains_personal_data(mask_text(text))


@pytest.mark.parametrize(
    "text",
    [
        "",
        DUTY_PHONE,
        "185****9918",
        "621221106201",
        "62122141600000_20260712183000",
        "全镇应转移21户74人，已转移19户68人",
    ],
)
def test_no_personal_data(text: str) -> None:
    assert not contains_personal_data(text)
