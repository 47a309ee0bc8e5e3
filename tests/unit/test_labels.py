"""Words and order of codes (sanqing/labels.py)."""

from __future__ import annotations

from sanqing.labels import cn_number_value, group_order, label


def test_village_groups_sort_in_numeric_order() -> None:
    names = ["十二组", "二组", "十组", "一组", "九组", "二十一组", "新村组"]
    assert sorted(names, key=group_order) == [
        "一组",
        "二组",
        "九组",
        "十组",
        "十二组",
        "二十一组",
        "新村组",
    ]
    assert cn_number_value("三组") == 3 and cn_number_value("组") is None


def test_unknown_code_shows_as_itself_never_blank() -> None:
    assert label("zh-CN", "zone", "danger") == "危险区"
    assert label("en", "zone", "danger") == "danger zone"
    assert label("zh-CN", "zone", "lava") == "lava"
    assert label("fr", "zone", "alert") == "威胁区"  # unknown locale falls back to zh-CN
