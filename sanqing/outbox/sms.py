"""SMS segment arithmetic (3GPP TS 23.038): Chinese text is sent as UCS-2."""

from __future__ import annotations

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")
UCS2_SINGLE, UCS2_MULTI = 70, 67
GSM7_SINGLE, GSM7_MULTI = 160, 153


#: The platform puts the signature between these and refuses them in a message body.
SIGNATURE_OPEN, SIGNATURE_CLOSE = "【", "】"
#: What a bracket from the data becomes in a body: plain parentheses.
_BODY_SAFE = str.maketrans({SIGNATURE_OPEN: "（", SIGNATURE_CLOSE: "）"})


def signature(*, county: str, office: str) -> str:
    """The signature the platform adds for a town: 【成县鸡峰镇人民政府】."""
    name = office if office.startswith(county) else county + office
    return f"{SIGNATURE_OPEN}{name.translate(_BODY_SAFE)}{SIGNATURE_CLOSE}"


def clean_body(text: str) -> str:
    """``text`` without 【】 (the platform's signature marks), which it would refuse."""
    # ``in`` is a fast scan; ``translate`` looks every character of Chinese text up.
    if SIGNATURE_OPEN in text or SIGNATURE_CLOSE in text:
        return text.translate(_BODY_SAFE)
    return text


def signed_segments(body: str, signature: str) -> int:
    """Segments of ``body`` as the phone receives it, with the platform's signature."""
    return segments(signature + body)


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
