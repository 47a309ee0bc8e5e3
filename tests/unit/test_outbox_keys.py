"""Outbox ids (sanqing/outbox/keys.py): built and read in one place, the same strings as before."""

from __future__ import annotations

import pytest

from sanqing.errors import SanqingError
from sanqing.outbox.keys import NoticeKey


@pytest.mark.parametrize(
    "text",
    [
        "flood-340000-ab12:sms:warning:H0001",  # a notice sent once
        "flood-340000-ab12:task_list:tasks:C001:9f3e2a1b0c",  # a version of a list
        "flood-340000-ab12:county:report:initial:1",  # a report: its kind and number
        "flood-340000-ab12:sms:tasks:C001:9f3e2a1b0c:resend-2",  # a resend of a version
        "flood-340000-ab12:sms:warning:C001:to-C009",  # a hand-up of a notice sent once
    ],
)
def test_a_key_reads_back_to_the_same_id(text: str) -> None:
    assert str(NoticeKey.parse(text)) == text


def test_versions_share_a_stem_and_copies_keep_the_version() -> None:
    key = NoticeKey("act", "task_list", "tasks", "C001")
    v1, v2 = key.versioned("aaa"), key.versioned("bbb")
    assert str(v1) != str(v2)
    assert str(v1).startswith(v1.stem) and str(v2).startswith(v1.stem)
    assert not str(NoticeKey("act", "task_list", "tasks", "C0011", "aaa")).startswith(v1.stem)
    copy = NoticeKey.parse(str(v1)).copied("resend-1")
    assert (copy.version, copy.copy) == ("aaa", "resend-1")
    assert str(copy) == "act:task_list:tasks:C001:aaa:resend-1"


@pytest.mark.parametrize(
    "bad",
    [
        "act:sms:warning",  # too short
        "act:sms::H1",  # an empty part
        "act:sms:warning:H1:v1:v2:v3",  # too long
    ],
)
def test_a_malformed_id_is_refused_with_its_text(bad: str) -> None:
    with pytest.raises(SanqingError, match="notice key"):
        NoticeKey.parse(bad)


def test_a_part_holding_the_separator_is_refused() -> None:
    # a recipient code with ':' would make the id unreadable and its copies collide
    with pytest.raises(SanqingError, match="about 'C:1'"):
        NoticeKey("act", "sms", "warning", "C:1")
    with pytest.raises(SanqingError, match="reads as a copy"):
        NoticeKey("act", "sms", "warning", "C1", "resend-1")


@pytest.mark.parametrize(
    "text",
    [
        "act:sms:warning:H0001",  # no version: no stem of its own
        "act:task_list:tasks:C001:9f3e2a1b0c",
        "act:task_list:tasks:C0011:9f3e2a1b0c",  # a longer code, not C001's version
        "act:task_list:tasks:C001:9f3e2a1b0c:resend-2",
        "act:sms:warning:C001:to-C009",
    ],
)
def test_an_ids_stem_is_the_stem_it_starts_with(text: str) -> None:
    """``stem_of`` (a set lookup for the batch's older versions) says what ``startswith``
    said of every stem: the id starts with a key's stem exactly when it is that key's."""
    stems = [NoticeKey(*parts).stem for parts in (
        ("act", "sms", "warning", "H0001"),
        ("act", "task_list", "tasks", "C001"),
        ("act", "task_list", "tasks", "C0011"),
        ("act", "sms", "warning", "C001"),
    )]  # fmt: skip
    for stem in stems:
        assert (NoticeKey.stem_of(text) == stem) == text.startswith(stem)
    assert (NoticeKey.stem_of(text) is None) == (text.count(":") == 3)
