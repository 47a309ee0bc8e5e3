"""Masking of residents' personal data for logs, artifacts and reports."""

from __future__ import annotations

import re

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")


def mask_phone(phone: str | None) -> str:
    """``13912345678`` → ``139****5678``; anything else keeps only its last 4 characters."""
    if not phone:
        return ""
    m = _PHONE.fullmatch(phone)
    if m:
        return f"{m.group(1)}****{m.group(3)}"
    return "*" * max(0, len(phone) - 4) + phone[-4:]


def mask_id_number(value: str | None) -> str:
    """An 18-character ID number keeps its region and last character only."""
    if not value:
        return ""
    return value[:6] + "*" * (len(value) - 7) + value[-1]


def mask_text(text: str) -> str:
    """Mask every mobile number and ID number found in free text."""
    text = _ID.sub(lambda m: m.group(1) + "*" * 11 + m.group(3)[-1], text)
    return _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def contains_personal_data(text: str) -> bool:
    """True when ``text`` holds an unmasked mobile or ID number."""
    return bool(_PHONE.search(text) or _ID.search(text))
