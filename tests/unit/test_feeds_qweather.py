"""QWeather weather alerts: /weatheralert/v1/current and /v7/warning/now."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sanqing.feeds.model import Reference, SourceFormat
from sanqing.feeds.parse import parse_document
from sanqing.feeds.qweather import parse_qweather
from sanqing.plans import Colour

DATA = Path(__file__).resolve().parents[1] / "data" / "feeds" / "qweather"
CST = timezone(timedelta(hours=8))
AREA = ["621221106"]


def test_v1_alert_update_cancel_and_unknown_code() -> None:
    path = DATA / "v1_current.json"
    result = parse_document(
        path.read_bytes(), source=str(path), area_codes=AREA, area_desc="成县小川镇"
    )
    alert, update, cancel, dust = result.warnings

    assert alert.identifier == "20260712183000621221001"
    assert alert.source_format is SourceFormat.QWEATHER_V1
    assert alert.sender == "成县气象台"
    assert (alert.msg_type, alert.status) == ("Alert", "Actual")
    assert (alert.event, alert.event_code) == ("暴雨", "1003")
    assert alert.hazard == "rainstorm"
    assert alert.colour is Colour.ORANGE
    assert alert.severity == "severe"
    assert alert.sent == datetime(2026, 7, 12, 18, 30, tzinfo=CST)
    assert alert.onset == datetime(2026, 7, 12, 19, 0, tzinfo=CST)
    assert alert.expires == datetime(2026, 7, 13, 18, 30, tzinfo=CST)
    assert alert.geocodes == [("admin", "621221106")]
    assert alert.area_desc == "成县小川镇"
    assert alert.references == []
    assert "转移危险区域群众" in alert.description

    assert update.msg_type == "Update"
    assert update.colour is Colour.RED
    assert update.references == [Reference(identifier="20260712183000621221001")]

    assert cancel.msg_type == "Cancel"
    assert cancel.references == [Reference(identifier="20260712213000621221002")]
    assert cancel.onset == datetime(2026, 7, 13, 6, 0, tzinfo=CST)  # effectiveTime

    assert dust.event_code == "1999"
    assert dust.hazard is None
    assert dust.colour is Colour.YELLOW  # "white" is no plan colour: severity moderate
    assert any("1999" in n for n in dust.notes)
    assert any("white" in n for n in dust.notes)

    # the fifth has a time without offset: it fails alone, naming the field
    [failure] = result.failures
    assert failure.identifier == "20260712170000621221005"
    assert "alerts[4].issuedTime" in failure.reason
    assert str(path) in failure.reason


def test_v1_empty_answer() -> None:
    data = json.dumps({"metadata": {"zeroResult": True}, "alerts": []}).encode()
    result = parse_qweather(data, source="q")
    assert result.warnings == [] and result.failures == []


def test_v1_error_answer() -> None:
    data = json.dumps(
        {
            "error": {
                "status": 401,
                "type": "https://dev.qweather.com/docs/resource/error-code/#unauthorized",
                "title": "Unauthorized",
                "detail": "Invalid key",
            }
        }
    ).encode()
    [f] = parse_qweather(data, source="q").failures
    assert "Unauthorized" in f.reason and "401" in f.reason


def test_v7_warning_now() -> None:
    path = DATA / "v7_now.json"
    result = parse_document(path.read_bytes(), source=str(path), area_codes=["621221"])
    assert result.failures == []
    geo, rain = result.warnings

    assert geo.source_format is SourceFormat.QWEATHER_V7
    assert geo.identifier == "10116050620260712213001234567"
    assert geo.msg_type == "Update"
    assert geo.references == [Reference(identifier="10116050620260712183001234560")]
    assert geo.hazard == "geological"
    assert geo.colour is Colour.ORANGE
    assert geo.event_code == "1037"
    assert geo.sent == datetime(2026, 7, 12, 21, 30, tzinfo=CST)
    assert geo.expires == datetime(2026, 7, 13, 21, 30, tzinfo=CST)
    assert geo.geocodes == [("admin", "621221")]

    assert rain.msg_type == "Alert"
    assert rain.references == []
    assert (rain.hazard, rain.colour) == ("rainstorm", Colour.YELLOW)


def test_v7_non_200_code() -> None:
    path = DATA / "v7_error.json"
    [f] = parse_document(path.read_bytes(), source=str(path)).failures
    assert "'402'" in f.reason


def test_flood_codes_and_unknown_values() -> None:
    def warning(**kw: str) -> dict[str, str]:
        base = {
            "id": "w1",
            "sender": "成县气象台",
            "pubTime": "2026-07-12T21:30+08:00",
            "title": "",
            "status": "active",
            "severity": "Minor",
            "severityColor": "Blue",
            "type": "1076",
            "typeName": "山洪灾害气象风险",
            "related": "",
        }
        return base | kw

    doc = {
        "code": "200",
        "warning": [
            warning(),
            warning(
                id="w2", type="1038", typeName="强降雨", severityColor="Black", severity="Strange"
            ),
            warning(id="w3", status="superseded"),
            warning(id="", type="1003"),
        ],
    }
    result = parse_qweather(json.dumps(doc).encode(), source="v7")
    w1, w2, w3 = result.warnings
    assert (w1.hazard, w1.colour) == ("flood", Colour.BLUE)
    assert w2.hazard == "rainstorm"
    assert w2.colour is None
    assert w2.severity == "Strange"
    assert any("Black" in n for n in w2.notes) and any("Strange" in n for n in w2.notes)
    assert w3.msg_type == "superseded" and any("superseded" in n for n in w3.notes)
    [f] = result.failures
    assert "warning[3].id" in f.reason


def test_not_json_and_wrong_shapes() -> None:
    assert "not valid JSON" in parse_document(b"{nope", source="q").failures[0].reason
    assert "neither" in parse_document(b'{"foo": 1}', source="q").failures[0].reason
    assert "not a JSON object" in parse_document(b"[1, 2]", source="q").failures[0].reason
    bad = json.dumps({"alerts": [1, {"id": "x", "messageType": "alert"}]}).encode()
    failures = parse_qweather(bad, source="q").failures
    assert ["alerts[0]" in failures[0].reason, "alerts[1].messageType" in failures[1].reason] == [
        True,
        True,
    ]


def test_a_time_that_overflows_in_utc_fails_alone_naming_the_field() -> None:
    doc = json.loads((DATA / "v1_current.json").read_text(encoding="utf-8"))
    doc["alerts"][0]["expireTime"] = "9999-12-31T23:59:59-23:59"
    result = parse_qweather(json.dumps(doc).encode(), source="q.json", area_codes=AREA)
    assert "20260712183000621221001" not in [w.identifier for w in result.warnings]
    assert len(result.warnings) == 3  # the others are read (the sample's fifth fails anyway)
    bad = next(f for f in result.failures if f.identifier == "20260712183000621221001")
    assert "alerts[0].expireTime" in bad.reason and "9999-12-31T23:59:59-23:59" in bad.reason
