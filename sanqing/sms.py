"""SMS segment arithmetic (3GPP TS 23.038): Chinese text is sent as UCS-2."""

from __future__ import annotations

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")
UCS2_SINGLE, UCS2_MULTI = 70, 67
GSM7_SINGLE, GSM7_MULTI = 160, 153


def segments(text: str) -> int:
    """How many SMS segments ``text`` takes (0 for an empty text)."""
    if not text:
        return 0
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, multi = GSM7_SINGLE, GSM7_MULTI
    else:
        units = len(text.encode("utf-16-le")) // 2  # characters outside the BMP take two
        single, multi = UCS2_SINGLE, UCS2_MULTI
    if units <= single:
        return 1
    return -(-units // multi)
