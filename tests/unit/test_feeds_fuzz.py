"""Fuzzing the feed readers (hypothesis): whatever comes in, only the project's own answers come out.

``parse_document`` never raises: bad input is a ``ParseFailure`` naming why, and
never the catch-all "could not be parsed" that hides a reader's crash. Whatever it
returns validates again and can be stored (every time within the calendar in UTC),
and the area rules read it without error.

Three kinds of input: raw bytes; a well-formed CAP alert whose dates, values,
geocodes, references and areas are fuzzed; a QWeather answer whose fields are
fuzzed. Bounded in time: ``max_examples`` keeps the file to some seconds in CI.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sanqing.feeds.area import covered_villages
from sanqing.feeds.model import FeedWarning, ParseResult
from sanqing.feeds.parse import parse_document
from sanqing.models import Town, Village

FUZZ = settings(
    max_examples=250,
    deadline=None,  # a slow example on a busy machine is no failure
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow],
)
#: What parse_document says when a reader raised: must never be seen.
CRASH = "could not be parsed ("

# These strategies never touch the global ``random``; Prefect's background threads of
# the session harness (other test files) do, and Hypothesis reads any change of the
# global state during a draw as ours: a warning, turned into an error by pytest's
# config, failed CI once. Ignore that one warning here and nothing else.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies:"
    "hypothesis.errors.HypothesisDeprecationWarning"
)

TOWN = Town(
    code="621221106",
    key="jifeng",
    name="鸡峰镇",
    county_code="621221",
    county="成县",
    office="鸡峰镇人民政府",
    duty_phone="0939-0000000",
    lat=33.68,
    lon=105.63,
)
VILLAGES = [
    Village(code="621221106202", town_code="621221106", name="石门村", lat=33.64, lon=105.61)
]


def check(result: ParseResult) -> None:
    """What any answer of parse_document must be."""
    assert isinstance(result, ParseResult)
    ParseResult.model_validate(result.model_dump())
    for failure in result.failures:
        assert CRASH not in failure.reason, failure.reason
        assert failure.reason.strip()
    for w in result.warnings:
        again = FeedWarning.model_validate(w.model_dump())
        for t in (again.sent, again.onset, again.expires, *(r.sent for r in again.references)):
            if t is not None:
                assert t.utcoffset() is not None
                t.astimezone(UTC)  # storable: within the calendar in UTC
        covered_villages(again, VILLAGES, {TOWN.code: TOWN})


# --- raw bytes ----------------------------------------------------------------------------

XMLISH = st.lists(
    st.sampled_from(
        [
            b"<",
            b">",
            b"</",
            b"/>",
            b"<?xml version='1.0' encoding='GBK'?>",
            b"<!DOCTYPE a [<!ENTITY x 'y'>]>",
            b"&x;",
            b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">',
            b"<feed xmlns='http://www.w3.org/2005/Atom'>",
            b"<entry>",
            b"<link href='a.xml'/>",
            b"<info>",
            b"<area>",
            b"<identifier>",
            b"<sent>",
            b"9999-12-31T23:59:59-23:59",
            b"\xef\xbb\xbf",
            b"\xff\xfe",
            b"{",
            b'"alerts":[',
            b"\x00",
            "暴雨红色预警".encode(),
        ]
    )
    | st.binary(max_size=8),
    max_size=40,
).map(b"".join)


@FUZZ
@given(st.binary(max_size=400) | XMLISH)
def test_raw_bytes(data: bytes) -> None:
    check(parse_document(data, source="fuzz.bin", area_codes=["621221106"]))


# --- structured CAP -----------------------------------------------------------------------

XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=30,
)
OFFSETS = st.sampled_from(["+08:00", "-23:59", "+14:00", "Z", "+0800", "", "+24:00", "-00:01"])
#: Written correctly, yet beyond the calendar once in UTC (or just within it).
EDGE_TIMES = st.sampled_from(
    [
        "9999-12-31T23:59:59-23:59",
        "9999-12-31T23:59:59-00:01",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59+14:00",
        "0001-01-01T23:59:59-23:59",
        "2026-07-12T18:30:00+08:00",
    ]
)
TIMES = st.one_of(
    EDGE_TIMES,
    st.builds(
        lambda y, mo, d, h, mi, off, sep: f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:00{off}",
        st.sampled_from([1, 2, 1970, 2026, 9998, 9999]) | st.integers(0, 9999),
        st.integers(1, 12) | st.integers(0, 13),
        st.integers(1, 28) | st.integers(0, 32),
        st.integers(0, 23) | st.integers(0, 25),
        st.integers(0, 59) | st.integers(0, 61),
        OFFSETS,
        st.sampled_from(["T", " "]),
    ),
    XML_TEXT,
)
NUMBER = st.floats(allow_nan=True, allow_infinity=True).map(repr) | XML_TEXT
POINT = st.builds(lambda a, b: f"{a},{b}", NUMBER, NUMBER)
GEOCODE = st.tuples(
    st.sampled_from(["行政区划代码", "admin", "ADCODE", "SAME", "FIPS6", "UGC", "ISO3166-2", ""])
    | XML_TEXT,
    st.sampled_from(["621221", "621221106", "621221106202", "000000", "62122110"])
    | st.text("0123456789", max_size=14)
    | XML_TEXT,
)
REFERENCE = st.builds(lambda s, i, t: f"{s},{i},{t}", XML_TEXT, XML_TEXT, TIMES) | XML_TEXT


def mostly(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    """The value three times in four, else the element is left out."""
    return st.one_of(strategy, strategy, strategy, st.none())


def element(name: str, value: str | None) -> str:
    return "" if value is None else f"<{name}>{escape(value)}</{name}>"


@st.composite
def info_block(draw: st.DrawFn) -> str:
    polygons = draw(st.lists(st.lists(POINT, max_size=6).map(" ".join), max_size=2))
    circles = draw(st.lists(st.builds(lambda p, r: f"{p} {r}", POINT, NUMBER), max_size=2))
    geocodes = draw(st.lists(GEOCODE, max_size=3))
    area = (
        "<area>"
        + element("areaDesc", draw(st.none() | XML_TEXT))
        + "".join(element("polygon", p) for p in polygons)
        + "".join(element("circle", c) for c in circles)
        + "".join(
            f"<geocode>{element('valueName', n)}{element('value', v)}</geocode>"
            for n, v in geocodes
        )
        + "</area>"
    )
    return (
        "<info>"
        + element("language", draw(st.sampled_from(["zh-CN", "en-US", "zh", ""]) | XML_TEXT))
        + element("event", draw(st.sampled_from(["暴雨", "地质灾害", "山洪", "大风"]) | XML_TEXT))
        + element("severity", draw(st.sampled_from(["Severe", "Extreme", "Minor", "?"])))
        + element("headline", draw(st.sampled_from(["暴雨红色预警", "三级", "[/red]x"]) | XML_TEXT))
        + "".join(
            element("responseType", r)
            for r in draw(st.lists(st.sampled_from(["AllClear", "Evacuate", "x"]), max_size=2))
        )
        + "".join(element(n, draw(st.none() | TIMES)) for n in ("effective", "onset", "expires"))
        + (area if draw(st.booleans()) else "")
        + "</info>"
    )


@st.composite
def cap_alert(draw: st.DrawFn) -> bytes:
    refs = draw(st.lists(REFERENCE, max_size=3))
    body = (
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        + element("identifier", draw(mostly(XML_TEXT.filter(str.strip))))
        + element("sender", draw(mostly(XML_TEXT)))
        + element("sent", draw(mostly(TIMES)))
        + element("status", draw(st.sampled_from(["Actual", "Exercise", "Draft", "x"])))
        + element("msgType", draw(st.sampled_from(["Alert", "Update", "Cancel", "Ack", "x"])))
        + (element("references", " ".join(refs)) if refs else "")
        + "".join(draw(st.lists(info_block(), max_size=3)))
        + "</alert>"
    )
    if draw(st.booleans()):  # inside an Atom entry, or loose in the feed
        entry = f"<entry><content>{body}</content></entry>" if draw(st.booleans()) else body
        body = f'<feed xmlns="http://www.w3.org/2005/Atom">{entry}</feed>'
    return f'<?xml version="1.0" encoding="UTF-8"?>{body}'.encode()


@FUZZ
@given(cap_alert())
def test_structured_cap(data: bytes) -> None:
    result = parse_document(data, source="fuzz.xml")
    check(result)
    assert result.warnings or result.failures  # an alert always gives an answer


# --- structured QWeather ------------------------------------------------------------------

JSON_TEXT = st.text(max_size=20)
JSON_ANY: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | JSON_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JSON_TEXT, inner, max_size=3),
    max_leaves=6,
)
QW_TIME = TIMES.map(lambda t: t.replace(":00+", "+").replace(":00-", "-")) | TIMES | JSON_ANY


@st.composite
def qweather(draw: st.DrawFn) -> bytes:
    alert = {
        "id": draw(JSON_TEXT | JSON_ANY),
        "senderName": draw(JSON_TEXT),
        "issuedTime": draw(QW_TIME),
        "messageType": draw(
            st.fixed_dictionaries(
                {
                    "code": st.sampled_from(["alert", "update", "cancel", "x"]),
                    "supersedes": st.lists(JSON_TEXT, max_size=2) | JSON_ANY,
                }
            )
            | JSON_ANY
        ),
        "eventType": draw(
            st.fixed_dictionaries(
                {"name": JSON_TEXT, "code": st.sampled_from(["1003", "1037", "9999"])}
            )
            | JSON_ANY
        ),
        "severity": draw(st.sampled_from(["severe", "extreme", "x"]) | JSON_ANY),
        "color": draw(
            st.fixed_dictionaries({"code": st.sampled_from(["red", "white"])}) | JSON_ANY
        ),
        "onsetTime": draw(st.none() | QW_TIME),
        "expireTime": draw(st.none() | QW_TIME),
        "headline": draw(JSON_TEXT | JSON_ANY),
        "responseTypes": draw(JSON_ANY),
    }
    v7 = {
        "id": draw(JSON_TEXT),
        "pubTime": draw(QW_TIME),
        "status": draw(st.sampled_from(["active", "update", "cancel"]) | JSON_ANY),
        "type": draw(st.sampled_from(["1003", "1076"]) | JSON_ANY),
        "severityColor": draw(st.sampled_from(["Red", ""]) | JSON_ANY),
        "startTime": draw(st.none() | QW_TIME),
        "endTime": draw(st.none() | QW_TIME),
        "related": draw(JSON_TEXT | JSON_ANY),
    }
    doc = draw(
        st.sampled_from(
            [
                {"metadata": {}, "alerts": [alert]},
                {"code": "200", "warning": [v7]},
                {"code": draw(JSON_ANY), "warning": draw(JSON_ANY)},
                {"alerts": draw(JSON_ANY)},
            ]
        )
    )
    return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode()


@FUZZ
@given(qweather())
def test_structured_qweather(data: bytes) -> None:
    check(parse_document(data, source="fuzz.json", area_codes=["621221106"], area_desc="鸡峰镇"))
