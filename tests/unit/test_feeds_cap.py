"""CAP 1.2 / 1.1 alerts, Atom / RSS indexes, hostile and malformed XML."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sanqing.errors import CapError
from sanqing.feeds import cap
from sanqing.feeds.model import FeedWarning, ParseResult, Reference, SourceFormat
from sanqing.feeds.parse import MAX_DOCUMENT_BYTES, detect_format, parse_document
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


def one_of(data: bytes) -> FeedWarning:
    result = parse_document(data, source="x.xml")
    assert result.failures == [], result.failures
    [w] = result.warnings
    return w


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
    # the union of both blocks' areas, the displayed (zh-CN) block's first
    assert w.area_desc == "成县小川镇、小川镇王坝村、杨坝村、Xiaochuan town, Cheng County"
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


def test_polygon_with_three_pairs_is_dropped_with_a_note_when_another_area_remains() -> None:
    w = one("malformed/polygon_3_pairs.xml")
    assert w.polygons == []
    assert w.area_desc == "Within 5 km of the Xiaochuan rain gauge"
    assert any("<polygon>" in n and "3" in n and "dropped" in n for n in w.notes)


def test_bad_circle_is_dropped_with_a_note_when_another_area_remains() -> None:
    w = one("malformed/bad_circle.xml")
    assert w.circles == []
    assert any("<circle>" in n and "dropped" in n for n in w.notes)


def test_bad_polygon_leaving_no_usable_area_is_rejected() -> None:
    reason = failure_reason("malformed/polygon_3_pairs_no_other_area.xml")
    assert "<polygon>" in reason and "3" in reason and "no other usable area" in reason


@pytest.mark.parametrize(
    ("old", "new", "element"),
    [
        (b"<msgType>Alert</msgType>", b"", "<msgType>"),
        (b"<status>Actual</status>", b"<status></status>", "<status>"),
        (b"<expires>2026-07-12T23:15:00+08:00</expires>", b"<expires>soon</expires>", "<expires>"),
        (
            b"<msgType>Alert</msgType>",
            b"<msgType>Update</msgType><references>just-one-word</references>",
            "<references>",
        ),
        (
            b"<msgType>Alert</msgType>",
            "<msgType>Update</msgType><references>成县,,2026-07-12T18:30:00+08:00</references>".encode(),
            "<references>",
        ),
        (b"2026-07-12T19:15:00+08:00", b"2026-07-12T19:15:00", "<sent>"),
        (b"2026-07-12T23:15:00+08:00", b"2026-07-12 23:15", "<expires>"),
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


# ---------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("rel", "encoding", "area"),
    [
        ("cap/rainstorm_orange_gbk.xml", "GBK", "成县小川镇"),
        # declared GB2312 but carrying 堃, which only GBK / GB18030 define
        ("cap/rainstorm_orange_gb2312.xml", "gb2312", "成县小川镇堃坝村"),
        ("cap/rainstorm_orange_gb18030.xml", "GB18030", "成县小川镇"),
    ],
)
def test_chinese_encodings_are_decoded(rel: str, encoding: str, area: str) -> None:
    data = (DATA / rel).read_bytes()
    assert f'encoding="{encoding}"'.encode() in data
    assert "成县".encode() not in data  # really not UTF-8
    w = one(rel)
    assert w.sender == "成县气象台"
    assert w.hazard == "rainstorm" and w.colour is Colour.ORANGE
    assert w.area_desc == area
    assert w.geocodes == [("admin", "621221106")]
    assert any(encoding in n and "decoded" in n for n in w.notes)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_a_byte_order_mark(codec: str) -> None:
    text = (DATA / "cap/rainstorm_orange_zh_en.xml").read_text(encoding="utf-8")
    data = ("\ufeff" + text.replace('encoding="UTF-8"', 'encoding="UTF-16"')).encode(codec)
    assert detect_format(data) == "xml"
    result = parse_document(data, source="utf16.xml")
    assert result.failures == []
    [w] = result.warnings
    assert w.headline == "成县气象台发布暴雨橙色预警[Ⅱ级/严重]"
    assert w.colour is Colour.ORANGE


def test_utf8_bom_and_undeclared_documents_still_read() -> None:
    data = (DATA / "cap/circle_only.xml").read_bytes()
    assert detect_format(b"\xef\xbb\xbf" + data) == "xml"
    assert parse_document(b"\xef\xbb\xbf" + data, source="bom.xml").warnings
    no_decl = data.split(b"\n", 1)[1]
    assert parse_document(no_decl, source="nodecl.xml").warnings


def test_unknown_or_wrong_encoding_is_a_clear_failure() -> None:
    data = (DATA / "cap/circle_only.xml").read_bytes()
    unknown = data.replace(b'encoding="UTF-8"', b'encoding="X-NO-SUCH"')
    assert "X-NO-SUCH" in parse_document(unknown, source="u.xml").failures[0].reason
    gbk = (DATA / "cap/rainstorm_orange_gbk.xml").read_bytes()
    wrong = gbk.replace(b'encoding="GBK"', b'encoding="Shift_JIS"')
    assert "Shift_JIS" in parse_document(wrong, source="w.xml").failures[0].reason


def test_hostile_xml_is_still_refused_after_decoding() -> None:
    data = (DATA / "hostile/xxe.xml").read_bytes()
    text = data.decode("utf-8")
    gbk = text.replace('encoding="UTF-8"', 'encoding="GBK"', 1)
    if 'encoding="GBK"' not in gbk:
        gbk = gbk.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="GBK"?>')
    assert 'encoding="GBK"' in gbk
    reason = parse_document(gbk.encode("gbk"), source="xxe-gbk.xml").failures[0].reason
    assert "external entity" in reason


# ----------------------------------------------------------- lenient times


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-12T10:30:00Z", datetime(2026, 7, 12, 18, 30, tzinfo=CST)),
        ("2026-07-12T18:30+08:00", datetime(2026, 7, 12, 18, 30, tzinfo=CST)),
        ("2026-07-12T18:30:00+0800", datetime(2026, 7, 12, 18, 30, tzinfo=CST)),
        ("2026-07-12 18:30:00+08:00", datetime(2026, 7, 12, 18, 30, tzinfo=CST)),
        ("2026-07-12 18:30+0800", datetime(2026, 7, 12, 18, 30, tzinfo=CST)),
    ],
)
def test_non_strict_times_are_read_with_a_note(text: str, expected: datetime) -> None:
    notes: list[str] = []
    value = cap.parse_cap_time(text, "sent", notes)
    assert value == expected and value.utcoffset() is not None
    assert len(notes) == 1 and text in notes[0] and "<sent>" in notes[0]


def test_strict_time_has_no_note() -> None:
    notes: list[str] = []
    cap.parse_cap_time("2026-07-12T18:30:00+08:00", "sent", notes)
    assert notes == []


@pytest.mark.parametrize(
    "text", ["2026-07-12T18:30:00", "2026-07-12 18:30", "2026-07-12", "18:30+08:00", "soon"]
)
def test_times_without_offset_or_shape_stay_errors(text: str) -> None:
    with pytest.raises(CapError, match="sent"):
        cap.parse_cap_time(text, "sent", [])


def test_alert_with_z_times_is_accepted() -> None:
    data = (DATA / "cap/circle_only.xml").read_bytes()
    data = data.replace(b"2026-07-12T19:15:00+08:00", b"2026-07-12T11:15:00Z")
    w = one_of(data)
    assert w.sent == datetime(2026, 7, 12, 19, 15, tzinfo=CST)
    assert any("<sent>" in n and "not strict CAP" in n for n in w.notes)


# ------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("refs", "sent"),
    [
        ("成县气象台,62122141600000_20260712183000_1", None),
        ("成县气象台,62122141600000_20260712183000_1,", None),
        ("成县气象台,62122141600000_20260712183000_1,yesterday", None),
        ("成县气象台,62122141600000_20260712183000_1,2026-07-12T18:30:00", None),
        (
            "成县气象台,62122141600000_20260712183000_1,2026-07-12 18:30:00+08:00",
            datetime(2026, 7, 12, 18, 30, tzinfo=CST),
        ),
    ],
)
def test_references_with_a_missing_or_bad_sent_keep_the_message(
    refs: str, sent: datetime | None
) -> None:
    data = (DATA / "cap/circle_only.xml").read_bytes()
    data = data.replace(
        b"<msgType>Alert</msgType>",
        f"<msgType>Update</msgType><references>{refs}</references>".encode(),
    )
    w = one_of(data)
    assert w.references == [
        Reference(sender="成县气象台", identifier="62122141600000_20260712183000_1", sent=sent)
    ]
    assert any("<references>" in n for n in w.notes)


def test_references_keep_good_triples_next_to_a_bad_sent() -> None:
    refs = cap.parse_references("a,id1,2026-07-12T18:30:00+08:00 b,id2,?", notes := [])
    assert [(r.identifier, r.sent is None) for r in refs] == [("id1", False), ("id2", True)]
    assert len(notes) == 1 and "id2" in notes[0]


# ------------------------------------------------------- several <info>


def test_strongest_flood_hazard_of_all_info_blocks_wins() -> None:
    w = one("cap/thunder_yellow_rainstorm_red.xml")
    # display text from the preferred (first zh-CN) block
    assert w.language == "zh-CN"
    assert w.headline == "成县气象台发布雷电黄色预警"
    assert w.description == "预计未来6小时内成县将出现雷电活动。"
    # meaning from the rainstorm red block
    assert w.hazard == "rainstorm"
    assert w.colour is Colour.RED
    assert (w.event, w.event_code, w.severity) == ("暴雨", "11B03", "Extreme")
    # union of areas and response types; earliest onset, latest expiry
    assert w.geocodes == [("admin", "621221"), ("admin", "621221106")]
    assert len(w.polygons) == 1
    assert w.area_desc == "成县、成县小川镇"
    assert w.response_types == ["Monitor", "Prepare", "Evacuate"]
    assert w.onset == datetime(2026, 7, 12, 20, 0, tzinfo=CST)
    assert w.expires == datetime(2026, 7, 13, 8, 0, tzinfo=CST)
    notes = " | ".join(w.notes)
    assert "2 <info> blocks" in notes
    assert "rainstorm" in notes and "red" in notes and "<info> 2" in notes
    assert "union" in notes and "latest" in notes and "earliest" in notes
    assert "not a flood-plan hazard" not in notes


def test_only_non_flood_blocks_keep_the_display_block_meaning() -> None:
    data = (DATA / "cap/thunder_yellow_rainstorm_red.xml").read_bytes()
    data = data.replace("暴雨".encode(), "大风".encode()).replace(b"11B03", b"11B06")
    w = one_of(data)
    assert w.hazard is None
    assert w.event == "雷电" and w.colour is Colour.YELLOW
    assert any("not a flood-plan hazard" in n for n in w.notes)


def test_a_bad_time_in_a_block_that_does_not_count_is_only_a_note() -> None:
    good = (DATA / "cap/rainstorm_orange_zh_en.xml").read_bytes()
    bad_en_expiry = good.replace(
        b"<expires>2026-07-13T18:30:00+08:00</expires>", b"<expires>x</expires>", 1
    )
    # the English block names the rainstorm too: its expiry counts, so the alert is refused
    assert "<expires>" in parse_document(bad_en_expiry, source="x.xml").failures[0].reason
    # an English block about something else only loses its time
    other = bad_en_expiry.replace(b"<event>Rainstorm</event>", b"<event>Thunder</event>")
    other = other.replace(b"<value>11B03</value>", b"<value>11B14</value>", 1)
    other = other.replace(b"orange rainstorm warning", b"thunder warning")
    w = one_of(other)
    assert w.expires == datetime(2026, 7, 13, 18, 30, tzinfo=CST)
    assert any("<info> 1 (en-US)" in n and "<expires>" in n for n in w.notes)
    # the display block's bad time still refuses the alert
    bad_zh_expiry = good.replace(
        b"<expires>2026-07-13T18:30:00+08:00</expires>\n    <senderName>\xe6",
        b"<expires>x</expires>\n    <senderName>\xe6",
    )
    assert bad_zh_expiry != good
    assert "<expires>" in parse_document(bad_zh_expiry, source="x.xml").failures[0].reason


# ------------------------------------------------------------- link choice


def atom(*entries: str) -> bytes:
    body = "".join(f"<entry><id>e{n}</id>{e}</entry>" for n, e in enumerate(entries, start=1))
    return f'<feed xmlns="http://www.w3.org/2005/Atom">{body}</feed>'.encode()


def rss(*items: str) -> bytes:
    body = "".join(f"<item>{i}</item>" for i in items)
    return f'<rss version="2.0"><channel><title>t</title>{body}</channel></rss>'.encode()


BASE = "https://warn.example.cn/gs/index.xml"


def test_atom_link_application_xml_beats_html() -> None:
    result = parse_document(
        atom(
            '<link rel="alternate" type="text/html" href="w/1.html"/>'
            '<link rel="alternate" type="application/xml" href="w/1.xml"/>'
        ),
        source=BASE,
    )
    assert result.failures == []
    assert result.links == ["https://warn.example.cn/gs/w/1.xml"]


def test_atom_cap_type_beats_xml_and_xml_beats_untyped() -> None:
    result = parse_document(
        atom(
            '<link rel="enclosure" href="w/a"/>'
            '<link type="text/xml" href="w/b"/>'
            '<link rel="related" type="application/common-alerting-protocol+xml" href="w/c"/>',
            '<link rel="related" href="w/d"/><link type="application/xml" href="w/e"/>',
        ),
        source=BASE,
    )
    assert result.links == ["https://warn.example.cn/gs/w/c", "https://warn.example.cn/gs/w/e"]


def test_atom_link_rel_related_beats_html_alternate() -> None:
    result = parse_document(
        atom(
            '<link href="https://warn.example.cn/page/2.html"/>'
            '<link rel="self" href="w/self.xml" type="application/xml"/>'
            '<link rel="related" href="cap/2"/>'
        ),
        source=BASE,
    )
    assert result.failures == []
    assert result.links == ["https://warn.example.cn/gs/cap/2"]


def test_atom_entry_with_only_an_html_link_is_a_failure_naming_it() -> None:
    result = parse_document(
        atom('<link rel="alternate" type="text/html" href="w/3"/>'), source=BASE
    )
    assert result.links == []
    [f] = result.failures
    assert "HTML" in f.reason and "w/3" in f.reason and f.identifier == "e1"


def test_rss_enclosure_text_xml_beats_the_html_link() -> None:
    result = parse_document(
        rss(
            "<link>https://warn.example.cn/page/4.html</link>"
            '<enclosure url="cap/4.xml" length="900" type="text/xml"/>'
            "<guid>62122141600000_20260712200000_4</guid>"
        ),
        source=BASE,
    )
    assert result.failures == []
    assert result.links == ["https://warn.example.cn/gs/cap/4.xml"]


def test_rss_guid_only() -> None:
    result = parse_document(
        rss(
            '<guid isPermaLink="true">https://warn.example.cn/cap/5.xml</guid>',
            '<guid isPermaLink="false">62122141600000_20260712200000_6</guid>',
        ),
        source=BASE,
    )
    assert result.links == ["https://warn.example.cn/cap/5.xml"]
    [f] = result.failures
    assert "item 2" in f.reason and f.identifier == "62122141600000_20260712200000_6"


def test_rss_item_with_only_an_html_link_is_a_failure_naming_it() -> None:
    result = parse_document(
        rss(
            "<link>https://warn.example.cn/page/7.html</link>"
            '<guid isPermaLink="true">https://warn.example.cn/page/7.htm</guid>'
        ),
        source=BASE,
    )
    assert result.links == []
    [f] = result.failures
    assert "HTML" in f.reason and "page/7.html" in f.reason


# ------------------------------------------------- times beyond the calendar

# Valid as written, but out of the calendar once converted to UTC (what is stored).
OVERFLOWS = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00"]


@pytest.mark.parametrize("text", OVERFLOWS)
@pytest.mark.parametrize(
    ("old", "element"),
    [(b"2026-07-12T19:15:00+08:00", "<sent>"), (b"2026-07-12T23:15:00+08:00", "<expires>")],
)
def test_a_time_that_overflows_in_utc_is_a_failure_naming_element_and_value(
    text: str, old: bytes, element: str
) -> None:
    data = (DATA / "cap/circle_only.xml").read_bytes()
    assert old in data
    result = parse_document(data.replace(old, text.encode()), source="x.xml")
    assert result.warnings == []
    [failure] = result.failures
    assert element in failure.reason and text in failure.reason and "UTC" in failure.reason


def test_a_reference_sent_that_overflows_keeps_the_reference_with_a_note() -> None:
    refs = cap.parse_references(f"成县,A-1,{OVERFLOWS[0]}", notes := [])
    assert refs == [Reference(sender="成县", identifier="A-1", sent=None)]
    assert any(OVERFLOWS[0] in n for n in notes)


@pytest.mark.parametrize("text", OVERFLOWS)
def test_the_model_refuses_a_time_that_cannot_be_stored(text: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="UTC"):
        FeedWarning(
            identifier="X",
            sent=datetime.fromisoformat(text),
            source_format=SourceFormat.CAP,
        )


def _bare_alert() -> str:
    text = (DATA / "cap/circle_only.xml").read_text(encoding="utf-8")
    return text[text.index("<alert") :]


@pytest.mark.parametrize(
    "doc",
    [
        lambda a: f'<feed xmlns="http://www.w3.org/2005/Atom"><id>f</id>{a}</feed>',
        lambda a: f'<rss version="2.0"><channel><title>t</title>{a}</channel></rss>',
    ],
    ids=["atom", "rss"],
)
def test_an_alert_outside_any_entry_is_read_with_a_note(doc) -> None:  # type: ignore[no-untyped-def]
    result = parse_document(doc(_bare_alert()).encode(), source="index.xml")
    assert result.failures == [] and result.links == []
    [w] = result.warnings
    assert any("outside" in n for n in w.notes)
