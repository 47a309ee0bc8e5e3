"""QWeather weather alerts: the current ``/weatheralert/v1/current/{lat}/{lon}`` and the older ``/v7/warning/now``.

QWeather answers say nothing about the area: the caller knows which place it
asked about and passes its administrative division codes (``area_codes``) and
description (``area_desc``); they become the warning's geocodes
``("admin", code)`` and ``area_desc``.

QWeather's value lists (event types, severities, colours) are open: a value
sanqing does not know is kept as published and explained in ``notes``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from sanqing.errors import (
    QWeatherError,
)
from sanqing.feeds.cap import colour_from_severity, colour_from_text, hazard_from_text
from sanqing.feeds.model import (
    OUT_OF_RANGE,
    FeedWarning,
    ParseFailure,
    ParseResult,
    Reference,
    SourceFormat,
    fits_utc,
)
from sanqing.plans import Colour

# Event type codes that matter to the flood plan.
EVENT_HAZARDS: dict[str, str] = {
    "1003": "rainstorm",  # 暴雨
    "1037": "geological",  # 地质灾害
    "1038": "rainstorm",  # 强降雨 / heavy rain
    "1073": "flood",  # 洪水 / flood risk
    "1075": "flood",  # 渍涝 / waterlogging risk
    "1076": "flood",  # 山洪 / flash-flood risk
}

MESSAGE_TYPES = {"alert": "Alert", "active": "Alert", "update": "Update", "cancel": "Cancel"}
COLOUR_CODES: dict[str, Colour] = {
    "blue": Colour.BLUE,
    "yellow": Colour.YELLOW,
    "orange": Colour.ORANGE,
    "red": Colour.RED,
}
KNOWN_SEVERITIES = {
    "minor",
    "moderate",
    "severe",
    "extreme",
    "unknown",
    # v7 only
    "cancel",
    "none",
    "standard",
    "major",
}
V7_CODES = {
    "204": "no data for this location",
    "400": "bad request",
    "401": "authentication failed",
    "402": "quota exceeded or account overdue",
    "403": "access denied",
    "404": "location not found",
    "429": "too many requests",
    "500": "server error",
}

_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:\d{2}|Z)$")


def parse_qweather_time(value: Any, field: str) -> datetime:
    """A QWeather time ``YYYY-MM-DDThh:mm[:ss]±hh:mm``; the offset is required."""
    if not isinstance(value, str) or not value.strip():
        raise QWeatherError(field, f"time is missing (got {value!r})")
    text = value.strip()
    if not _TIME.match(text):
        raise QWeatherError(
            field, f"time {text!r} is not YYYY-MM-DDThh:mm[:ss]±hh:mm (the offset is required)"
        )
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise QWeatherError(field, f"time {text!r} is not a valid date/time: {exc}") from None
    if not fits_utc(parsed):
        raise QWeatherError(field, f"time {text!r} {OUT_OF_RANGE}")
    return parsed


def _str(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _opt_time(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    return parse_qweather_time(value, field)


def _meaning(
    code: str,
    name: str,
    headline: str,
    colour_code: str,
    severity: str,
    notes: list[str],
) -> tuple[str | None, Colour | None]:
    hazard = EVENT_HAZARDS.get(code)
    if hazard is None:
        hazard = hazard_from_text(name, headline)
        if hazard is not None:
            notes.append(
                f"event code {code or '-'} not known; hazard {hazard} from the name {name!r}"
            )
        else:
            notes.append(
                f"event {name!r} (code {code or '-'}) is not a flood-plan hazard; kept as published"
            )
    if severity and severity.lower() not in KNOWN_SEVERITIES:
        notes.append(f"unknown severity {severity!r}; kept as published")

    colour = COLOUR_CODES.get(colour_code.lower()) if colour_code else None
    if colour_code and colour is None:
        notes.append(
            f"colour {colour_code!r} is not blue/yellow/orange/red; kept in the notes only"
        )
    if colour is None:
        colour, text_notes = colour_from_text(name, headline)
        notes.extend(text_notes)
    if colour is None:
        colour = colour_from_severity(severity)
        if colour is not None:
            notes.append(f"colour taken from severity {severity}: {colour.value}")
    return hazard, colour


def _geo(area_codes: Sequence[str]) -> list[tuple[str, str]]:
    return [("admin", c) for c in area_codes]


def _v1_alert(
    alert: Mapping[str, Any], *, source: str, area_codes: Sequence[str], area_desc: str, where: str
) -> FeedWarning:
    notes: list[str] = []
    identifier = _str(alert.get("id"))
    if not identifier:
        raise QWeatherError(f"{where}.id", "is missing")
    mt = alert.get("messageType") or {}
    if not isinstance(mt, Mapping):
        raise QWeatherError(f"{where}.messageType", f"is not an object: {mt!r}")
    mt_code = _str(mt.get("code"))
    msg_type = MESSAGE_TYPES.get(mt_code.lower())
    if msg_type is None:
        notes.append(f"unknown messageType.code {mt_code!r}; kept as published")
        msg_type = mt_code or "Alert"
    supersedes = mt.get("supersedes") or []
    if isinstance(supersedes, str):
        supersedes = [supersedes]
    if not isinstance(supersedes, list):
        raise QWeatherError(f"{where}.messageType.supersedes", f"is not a list: {supersedes!r}")
    et = alert.get("eventType") or {}
    if not isinstance(et, Mapping):
        raise QWeatherError(f"{where}.eventType", f"is not an object: {et!r}")
    code, name = _str(et.get("code")), _str(et.get("name"))
    color = alert.get("color") or {}
    colour_code = _str(color.get("code")) if isinstance(color, Mapping) else _str(color)
    severity = _str(alert.get("severity"))
    headline = _str(alert.get("headline"))
    hazard, colour = _meaning(code, name, headline, colour_code, severity, notes)
    description = "\n".join(
        _str(alert.get(k)) for k in ("description", "criteria", "instruction") if _str(alert.get(k))
    )
    response_types = alert.get("responseTypes") or []
    if not isinstance(response_types, list):
        response_types = [response_types]
    return FeedWarning(
        identifier=identifier,
        sender=_str(alert.get("senderName")),
        sent=parse_qweather_time(alert.get("issuedTime"), f"{where}.issuedTime"),
        source_format=SourceFormat.QWEATHER_V1,
        source=source,
        msg_type=msg_type,
        status="Actual",
        event=name,
        event_code=code,
        hazard=hazard,
        colour=colour,
        severity=severity,
        headline=headline,
        description=description,
        language="zh-CN",
        onset=_opt_time(alert.get("onsetTime"), f"{where}.onsetTime")
        or _opt_time(alert.get("effectiveTime"), f"{where}.effectiveTime"),
        expires=_opt_time(alert.get("expireTime"), f"{where}.expireTime"),
        response_types=[_str(r) for r in response_types if _str(r)],
        references=[Reference(identifier=_str(s)) for s in supersedes if _str(s)],
        area_desc=area_desc,
        geocodes=_geo(area_codes),
        notes=notes,
    )


def _v7_warning(
    w: Mapping[str, Any], *, source: str, area_codes: Sequence[str], area_desc: str, where: str
) -> FeedWarning:
    notes: list[str] = []
    identifier = _str(w.get("id"))
    if not identifier:
        raise QWeatherError(f"{where}.id", "is missing")
    status = _str(w.get("status"))
    msg_type = MESSAGE_TYPES.get(status.lower())
    if msg_type is None:
        notes.append(f"unknown status {status!r}; kept as published")
        msg_type = status or "Alert"
    code, name = _str(w.get("type")), _str(w.get("typeName"))
    title = _str(w.get("title"))
    severity = _str(w.get("severity"))
    hazard, colour = _meaning(code, name, title, _str(w.get("severityColor")), severity, notes)
    related = _str(w.get("related"))
    if msg_type in ("Update", "Cancel") and not related:
        notes.append(f"{msg_type} without 'related': it supersedes nothing")
    return FeedWarning(
        identifier=identifier,
        sender=_str(w.get("sender")),
        sent=parse_qweather_time(w.get("pubTime"), f"{where}.pubTime"),
        source_format=SourceFormat.QWEATHER_V7,
        source=source,
        msg_type=msg_type,
        status="Actual",
        event=name,
        event_code=code,
        hazard=hazard,
        colour=colour,
        severity=severity,
        headline=title,
        description=_str(w.get("text")),
        language="zh-CN",
        onset=_opt_time(w.get("startTime"), f"{where}.startTime"),
        expires=_opt_time(w.get("endTime"), f"{where}.endTime"),
        references=[Reference(identifier=r) for r in related.split(",") if r.strip()]
        if related
        else [],
        area_desc=area_desc,
        geocodes=_geo(area_codes),
        notes=notes,
    )


def _items(
    items: Any,
    field: str,
    build: Callable[..., FeedWarning],
    *,
    source: str,
    area_codes: Sequence[str],
    area_desc: str,
) -> ParseResult:
    result = ParseResult()
    if items is None:
        return result
    if not isinstance(items, list):
        result.failures.append(
            ParseFailure(source=source, reason=f"{source}: {field} is not a list")
        )
        return result
    for n, item in enumerate(items):
        where = f"{field}[{n}]"
        ident = _str(item.get("id")) or None if isinstance(item, Mapping) else None
        try:
            if not isinstance(item, Mapping):
                raise QWeatherError(where, f"is not an object: {item!r}")
            result.warnings.append(
                build(item, source=source, area_codes=area_codes, area_desc=area_desc, where=where)
            )
        except QWeatherError as exc:
            result.failures.append(
                ParseFailure(source=source, identifier=ident, reason=f"{source}: QWeather {exc}")
            )
        except ValidationError as exc:
            result.failures.append(
                ParseFailure(
                    source=source,
                    identifier=ident,
                    reason=f"{source}: QWeather {where} invalid: {exc}",
                )
            )
    return result


def parse_qweather_json(
    doc: Any, *, source: str, area_codes: Sequence[str] = (), area_desc: str = ""
) -> ParseResult:
    """An already-decoded QWeather answer (v1 or v7, told apart by shape)."""
    area_codes = [str(c) for c in area_codes]
    if not isinstance(doc, Mapping):
        return ParseResult(
            failures=[
                ParseFailure(
                    source=source, reason=f"{source}: QWeather answer is not a JSON object"
                )
            ]
        )
    if "alerts" in doc or "metadata" in doc:
        return _items(
            doc.get("alerts"),
            "alerts",
            _v1_alert,
            source=source,
            area_codes=area_codes,
            area_desc=area_desc,
        )
    if "error" in doc:
        err = doc["error"] if isinstance(doc["error"], Mapping) else {"detail": doc["error"]}
        detail = ", ".join(
            f"{k}={err[k]}" for k in ("status", "type", "title", "detail") if k in err
        )
        return ParseResult(
            failures=[ParseFailure(source=source, reason=f"{source}: QWeather error: {detail}")]
        )
    if "warning" in doc or "code" in doc:
        code = _str(doc.get("code"))
        if code != "200":
            meaning = V7_CODES.get(code, "unknown code")
            return ParseResult(
                failures=[
                    ParseFailure(
                        source=source,
                        reason=f"{source}: QWeather v7 answered code {code or '(none)'!r} ({meaning}), not 200",
                    )
                ]
            )
        return _items(
            doc.get("warning"),
            "warning",
            _v7_warning,
            source=source,
            area_codes=area_codes,
            area_desc=area_desc,
        )
    return ParseResult(
        failures=[
            ParseFailure(
                source=source,
                reason=f"{source}: JSON is neither a QWeather v1 answer ('alerts') nor v7 ('code', 'warning')",
            )
        ]
    )


def parse_qweather(
    data: bytes, *, source: str, area_codes: Sequence[str] = (), area_desc: str = ""
) -> ParseResult:
    """A QWeather v1 or v7 answer (bytes) → :class:`ParseResult`; never raises for bad input."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return ParseResult(
            failures=[ParseFailure(source=source, reason=f"{source}: not valid JSON: {exc}")]
        )
    return parse_qweather_json(doc, source=source, area_codes=area_codes, area_desc=area_desc)
