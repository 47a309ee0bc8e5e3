"""CAP 1.2 / 1.1 alerts, Atom / RSS indexes, hostile and malformed XML."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sanqing.feeds import cap
from sanqing.feeds.model import FeedWarning, ParseResult, Reference, SourceFormat
from sanqing.feeds.parse import MAX_DOCUMENT_BYTES, parse_document
from sanqing.plans import Colour

DATA = Path(__file__).resolve().parents[1] / "data" / "feeds"
CST = timezone(timedelta(hours=8))


def parse(rel: str) -> ParseResult:
    path = DATA / rel
    return parse_document(path.read_bytes(), source=str(path))


def one(rel: str) -> FeedWarning:
    result = parse(rel)
    assert result.failures == [], result.failures
    assert len(result.warnings) == 1
    return result.warnings[0]


def failure_reason(rel: str) -> str:
    result = parse(rel)
    assert result.warnings == []
    assert len(result.failures) == 1
    reason = result.failures[0].reason
    assert str(DATA / rel) in reason  # names the source
    return reason


# ------------------------------------------------------------------ alerts


def test_zh_en_orange_rainstorm_prefers_zh_cn_and_keeps_geocodes() -> None:
    w = one("cap/rainstorm_orange_zh_en.xml")
    assert w.identifier == "62122141600000_20260712183000_1"
    assert w.sender == "成县气象台"
    assert w.source_format is SourceFormat.CAP
    assert w.source.endswith("rainstorm_orange_zh_en.xml")
    assert w.sent == datetime(2026, 7, 12, 18, 30, tzinfo=CST)
    assert w.sent.utcoffset() == timedelta(hours=8)
    assert (w.msg_type, w.status) == ("Alert", "Actual")
    assert w.language == "zh-CN"
    assert w.event == "暴雨"
    assert w.event_code == "11B03"
    assert w.hazard == "rainstorm"
    assert w.colour is Colour.ORANGE
    assert w.severity == "Severe"
    assert w.headline == "成县气象台发布暴雨橙色预警[Ⅱ级/严重]"
    assert w.onset == datetime(2026, 7, 12, 19, 0, tzinfo=CST)
    assert w.expires == datetime(2026, 7, 13, 18, 30, tzinfo=CST)
    assert w.response_types == ["Prepare", "Monitor"]
    assert w.area_desc == "成县小川镇、小川镇王坝村、杨坝村"
    assert w.geocodes == [
        ("admin", "621221106"),
        ("admin", "621221106201"),
        ("admin", "621221106206"),
    ]
    assert w.references == []
    assert w.polygons == [] and w.circles == []
    assert not w.all_clear
    assert any("2 <info> blocks" in n for n in w.notes)


def test_english_only_when_no_chinese_info() -> None:
    w = one("cap/circle_only.xml")
    assert w.language == "en-US"
    assert w.hazard == "rainstorm"  # "Heavy rain"
    assert w.colour is Colour.YELLOW  # from severity Moderate
    assert any("severity" in n for n in w.notes)


def test_update_to_red_references_the_first() -> None:
    w = one("cap/rainstorm_red_update.xml")
    assert w.msg_type == "Update"
    assert w.colour is Colour.RED  # "橙色…升级为红色": the last colour named
    assert w.severity == "Extreme"
    assert w.references == [
        Reference(
            sender="成县气象台",
            identifier="62122141600000_20260712183000_1",
            sent=datetime(2026, 7, 12, 18, 30, tzinfo=CST),
        )
    ]


def test_cancel_references_both() -> None:
    w = one("cap/rainstorm_cancel.xml")
    assert w.msg_type == "Cancel"
    assert [r.identifier for r in w.references] == [
        "62122141600000_20260712183000_1",
        "62122141600000_20260712213000_2",
    ]
    assert w.references[1].sent == datetime(2026, 7, 12, 21, 30, tzinfo=CST)


def test_allclear_update() -> None:
    w = one("cap/rainstorm_allclear.xml")
    assert w.msg_type == "Update"
    assert w.response_types == ["AllClear"]
    assert w.all_clear
    assert w.references[0].identifier == "62122141600000_20260712213000_2"


def test_polygon_only_flood() -> None:
    w = one("cap/polygon_only.xml")
    assert w.hazard == "flood"
    assert w.colour is Colour.YELLOW
    assert w.geocodes == []
    assert w.polygons == [
        [(33.8, 105.7), (33.8, 105.8), (33.7, 105.8), (33.7, 105.7), (33.8, 105.7)]
    ]
    assert all(isinstance(x, float) for pt in w.polygons[0] for x in pt)


def test_circle_only() -> None:
    w = one("cap/circle_only.xml")
    assert w.circles == [(33.75, 105.75, 5.0)]
    assert w.polygons == []
    assert w.onset is None
    assert w.expires == datetime(2026, 7, 12, 23, 15, tzinfo=CST)


def test_cap_11_geological_level_three_is_yellow() -> None:
    w = one("cap/cap11_geological.xml")
    assert w.identifier == "62122141700000_20260712170000_1"
    assert w.hazard == "geological"
    assert w.colour is Colour.YELLOW
    assert w.geocodes == [("admin", "621221")]


@pytest.mark.parametrize(
    ("rel", "status"), [("cap/exercise.xml", "Exercise"), ("cap/draft.xml", "Draft")]
)
def test_exercise_and_draft_statuses_kept(rel: str, status: str) -> None:
    w = one(rel)
    assert w.status == status
    assert w.colour is Colour.YELLOW
    assert w.hazard == "rainstorm"


def test_unknown_severity_is_kept_with_a_note() -> None:
    w = one("malformed/unknown_severity.xml")
    assert w.severity == "Catastrophic"
    assert w.colour is None
    assert any("Catastrophic" in n for n in w.notes)


def test_unclosed_polygon_is_closed_with_a_note() -> None:
    notes: list[str] = []
    ring = cap.parse_polygon("1,2 1,3 2,3 2,2", notes)
    assert ring[-1] == ring[0] == (1.0, 2.0)
    assert len(ring) == 5
    assert notes and "closed" in notes[0]


@pytest.mark.parametrize(
    ("texts", "severity", "hazard", "colour"),
    [
        (["地质灾害气象风险四级预警"], "", "geological", Colour.BLUE),
        (["地质灾害气象风险一级预警"], "", "geological", Colour.RED),
        (["Geological hazard risk warning level 2"], "", "geological", Colour.ORANGE),
        (["Landslide risk", ""], "Extreme", "geological", Colour.RED),
        (["暴雨蓝色预警"], "Extreme", "rainstorm", Colour.BLUE),
        (["Red rainstorm warning"], "", "rainstorm", Colour.RED),
        (["Flood watch for covered bridges"], "", "flood", None),  # "covered" is no "red"
    ],
)
def test_colour_rules(texts: list[str], severity: str, hazard: str, colour: Colour | None) -> None:
    assert cap.hazard_from_text(*texts) == hazard
    assert cap.decide_colour(texts, severity, hazard, []) is colour


def test_non_flood_event_is_kept_with_a_note() -> None:
    data = (DATA / "cap/circle_only.xml").read_bytes()
    data = data.replace(b"Heavy rain", b"Strong wind")
    w = parse_document(data, source="wind.xml").warnings[0]
    assert w.hazard is None
    assert w.event == "Strong wind"
    assert any("not a flood-plan hazard" in n for n in w.notes)


# ----------------------------------------------------------------- indexes


def test_atom_index_links_resolved_against_the_file() -> None:
    result = parse("cap/index.atom")
    assert result.warnings == [] and result.failures == []
    assert result.links == [
        str(DATA / "cap/rainstorm_red_update.xml"),
        str(DATA / "cap/rainstorm_orange_zh_en.xml"),
    ]
    # what the caller then does: fetch each and parse it
    ids = [
        parse_document(Path(p).read_bytes(), source=p).warnings[0].identifier for p in result.links
    ]
    assert ids == ["62122141600000_20260712213000_2", "62122141600000_20260712183000_1"]


def test_atom_index_links_resolved_against_a_url() -> None:
    data = (DATA / "cap/index.atom").read_bytes()
    result = parse_document(data, source="https://warn.example.cn/gs/chengxian/index.atom")
    assert result.links == [
        "https://warn.example.cn/gs/chengxian/rainstorm_red_update.xml",
        "https://warn.example.cn/gs/chengxian/rainstorm_orange_zh_en.xml",
    ]


def test_remote_index_cannot_point_at_local_files() -> None:
    feed = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>x</id>
      <link type="application/cap+xml" href="file:///etc/passwd"/></entry></feed>"""
    result = parse_document(feed, source="https://warn.example.cn/index.atom")
    assert result.links == []
    assert "file:///etc/passwd" in result.failures[0].reason


def test_rss_index() -> None:
    result = parse("cap/index.rss")
    assert result.failures == []
    assert result.links == [
        str(DATA / "cap/rainstorm_orange_zh_en.xml"),
        str(DATA / "cap/rainstorm_cancel.xml"),  # the CAP enclosure, not the HTML link
    ]


def test_atom_entry_embedding_an_alert_is_parsed_and_a_bad_one_fails_alone() -> None:
    result = parse("cap/atom_embedded.xml")
    assert result.links == []
    [w] = result.warnings
    assert w.identifier == "62122141700000_20260712170000_2"
    assert w.hazard == "geological"
    assert w.colour is Colour.ORANGE  # 二级
    [f] = result.failures
    assert "<identifier>" in f.reason


# ------------------------------------------------------------------ hostile


def test_external_entity_refused() -> None:
    reason = failure_reason("hostile/xxe.xml")
    assert "external entity" in reason
    assert "root:" not in reason


def test_billion_laughs_refused() -> None:
    reason = failure_reason("hostile/billion_laughs.xml")
    assert "entity expansion" in reason


def test_dtd_refused() -> None:
    reason = failure_reason("hostile/dtd.xml")
    assert "DTD" in reason


# ---------------------------------------------------------------- malformed


def test_not_xml() -> None:
    reason = failure_reason("malformed/not_xml.txt")
    assert "neither XML" in reason


def test_broken_xml() -> None:
    result = parse_document(b"<alert><identifier>x</alert>", source="broken.xml")
    assert "not well-formed XML" in result.failures[0].reason


def test_missing_identifier() -> None:
    assert "<identifier>" in failure_reason("malformed/missing_identifier.xml")


def test_time_without_offset() -> None:
    reason = failure_reason("malformed/bad_time.xml")
    assert "<sent>" in reason and "2026-07-12T19:15:00" in reason
    assert parse("malformed/bad_time.xml").failures[0].identifier == (
        "62122141600000_20260712191500_6"
    )


def test_polygon_with_three_pairs() -> None:
    reason = failure_reason("malformed/polygon_3_pairs.xml")
    assert "<polygon>" in reason and "3" in reason


def test_bad_circle() -> None:
    assert "<circle>" in failure_reason("malformed/bad_circle.xml")


@pytest.mark.parametrize(
    ("old", "new", "element"),
    [
        (b"<msgType>Alert</msgType>", b"", "<msgType>"),
        (b"<status>Actual</status>", b"<status></status>", "<status>"),
        (b"<expires>2026-07-12T23:15:00+08:00</expires>", b"<expires>soon</expires>", "<expires>"),
        (
            b"<msgType>Alert</msgType>",
            b"<msgType>Update</msgType><references>a,b</references>",
            "<references>",
        ),
        (b"cap:1.2", b"cap:0.9", "namespace"),
    ],
)
def test_required_and_formatted_elements(old: bytes, new: bytes, element: str) -> None:
    data = (DATA / "cap/circle_only.xml").read_bytes()
    assert old in data
    result = parse_document(data.replace(old, new), source="x.xml")
    assert result.warnings == []
    assert element in result.failures[0].reason


def test_unknown_status_and_msg_type_are_kept() -> None:
    data = (DATA / "cap/circle_only.xml").read_bytes()
    data = data.replace(b"<status>Actual</status>", b"<status>Rehearsal</status>")
    w = parse_document(data, source="x.xml").warnings[0]
    assert w.status == "Rehearsal"
    assert any("Rehearsal" in n for n in w.notes)


def test_size_guard() -> None:
    result = parse_document(b"<" + b" " * MAX_DOCUMENT_BYTES, source="big.xml")
    assert "over the limit" in result.failures[0].reason


def test_empty_document() -> None:
    assert "empty" in parse_document(b"  \n", source="e.xml").failures[0].reason
