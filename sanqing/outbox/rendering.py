"""Jinja rendering of notices and reports (``templates/<locale>/<kind>/<name>.j2``)."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from sanqing.errors import TemplateMissing
from sanqing.labels import label
from sanqing.privacy import mask_phone
from sanqing.settings import SUPPORTED_LOCALES, get_settings


def format_time(value: datetime | None, fmt: str | None = None) -> str:
    """Local time; by default as official documents write it: 2026年7月12日18时30分."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(get_settings().timezone))
    if fmt is not None:
        return local.strftime(fmt)
    return f"{local.year}年{local.month}月{local.day}日{local.hour}时{local.minute:02d}分"


def _format_date(value: datetime | None) -> str:
    """The local date as official documents write it: 2026年7月12日 (en: 2026-07-12)."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(get_settings().timezone))
    return f"{local.year}年{local.month}月{local.day}日"


def _iso_time(value: str | None, fmt: str | None = None) -> str:
    """``format_time`` of an ISO timestamp kept as text (the board's JSON-ready data)."""
    return format_time(datetime.fromisoformat(value), fmt) if value else ""


#: What markdown (and the HTML a markdown viewer lets through) reads as markup.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def markdown_text(value: object) -> str:
    """``value`` as literal text in a markdown line or table cell: markup escaped, one line.

    Names come from ledgers anyone can edit: ``<script>`` or ``|`` in a village name
    must neither run in the UI's markdown nor break a table.
    """
    text = " ".join(str(value).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


#: Every way a level is written, to the one form notices use (Ⅰ级–Ⅳ级, U+2160…).
_LEVEL_FORMS = (
    ("IV级", "Ⅳ级"), ("III级", "Ⅲ级"), ("II级", "Ⅱ级"), ("I级", "Ⅰ级"),
    ("四级", "Ⅳ级"), ("三级", "Ⅲ级"), ("二级", "Ⅱ级"), ("一级", "Ⅰ级"),
)  # fmt: skip


def level_numerals(text: str) -> str:
    """``text`` with its response level in one form: 三级应急响应 → Ⅲ级应急响应."""
    for old, new in _LEVEL_FORMS:
        text = text.replace(old, new)
    return text


def cn_number(n: int) -> str:
    """Chinese numerals for ordinals in titles (续报一, 续报十二)."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    return str(n)


#: What ``getattr`` finds on a dict itself (``items``, ``get`` …): those names go Jinja's way.
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(Environment):
    """Jinja's environment, with ``context.key`` on a plain dict looked up as a key at once.

    Jinja tries the attribute first and the key after an ``AttributeError``: for the
    notices' dict contexts that is an exception per field. A name that is not an
    attribute of dict gives the same value (or the same undefined) either way.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


@lru_cache
def _environment(templates_dir: Path) -> Environment:
    """One environment per templates directory, its templates compiled once.

    No auto-reload: checking a template's file on every render cost more than the
    rendering (a ``stat`` per notice). A changed template is read by the next process.
    """
    env = _Environment(
        loader=FileSystemLoader(templates_dir),
        auto_reload=False,
        cache_size=-1,  # every template stays compiled (the default keeps 400)
        # Names end in .j2: escape by the format before it (card.html.j2).
        autoescape=select_autoescape(["html", "xml", "html.j2", "xml.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],  # lists built in a template (the door list's reasons)
    )
    env.filters["mask_phone"] = mask_phone
    env.filters["time"] = format_time
    env.filters["cn_number"] = cn_number
    env.filters["date"] = _format_date
    env.filters["level_numerals"] = level_numerals
    env.filters["isotime"] = _iso_time
    env.filters["md"] = markdown_text
    return env


def get_environment() -> Environment:
    """The app's one Jinja environment (StrictUndefined: a missing variable fails loudly)."""
    return _environment(get_settings().templates_dir)


def render(name: str, *, locale: str, **context: Any) -> str:
    """Render ``<locale>/<name>.j2`` with ``context`` and ``label()`` for the locale."""
    if locale not in SUPPORTED_LOCALES:
        raise TemplateMissing(
            f"locale {locale!r} is not supported ({', '.join(SUPPORTED_LOCALES)})"
        )
    path = f"{locale}/{name}.j2"
    try:
        template = get_environment().get_template(path)
    except TemplateNotFound:
        raise TemplateMissing(f"no template {path} under {get_settings().templates_dir}") from None
    return template.render(
        label=lambda group, code: label(locale, group, code), locale=locale, **context
    )
