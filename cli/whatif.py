"""``sanqing whatif``: what the plan would do for a town, before the rain; nothing written."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from cli.common import TownOption, fail
from sanqing.errors import SanqingError
from sanqing.models import Level
from sanqing.settings import DEFAULT_LOCALE


def whatif(
    town: TownOption,
    level: Annotated[Level | None, typer.Option(help="Response level IV|III|II|I.")] = None,
    warning: Annotated[
        str | None,
        typer.Option(help="A CAP or QWeather document (file or URL): its level and villages."),
    ] = None,
    at: Annotated[
        datetime | None,
        typer.Option(
            help="When the response would start, local time (e.g. 2026-07-12T02:00): "
            "at night danger zones move at once. Default: now.",
            formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The figures as one JSON line.")] = False,
    locale: Annotated[str, typer.Option(help="Language of the printout.")] = DEFAULT_LOCALE,
) -> None:
    """What-if (预演): who would move, shelter shortfall, machinery and cadre load.

    Give --level or --warning. The plan runs on a scratch copy of the town's registry
    in a process of its own: nothing is written to the app database, nothing is sent.
    """
    from zoneinfo import ZoneInfo

    from sanqing.settings import get_settings
    from sanqing.whatif import render_whatif, what_if

    if (level is None) == (warning is None):
        raise fail(SanqingError("give --level or --warning (one of them)"))
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(get_settings().timezone))
    try:
        figs = what_if(town, level=level, warning=warning, at=at)
        text = None if as_json else render_whatif(figs, locale)
    except SanqingError as exc:
        raise fail(exc) from exc
    typer.echo(json.dumps(figs, ensure_ascii=False, sort_keys=True) if text is None else text)
