"""``sanqing cards``: the 两卡 of a town, printed from the registry before the flood season."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import TownOption, check_folders, console, fail, plain
from sanqing.errors import SanqingError
from sanqing.settings import DEFAULT_LOCALE, DEFAULT_TOWN, SUPPORTED_LOCALES, get_settings

DEFAULT_CARDS_OUT = Path("cards")


def cards(
    town: TownOption = DEFAULT_TOWN,
    out: Annotated[
        Path, typer.Option(help="Folder for household/, monitor/ and responsible/ cards.")
    ] = DEFAULT_CARDS_OUT,
    locale: Annotated[
        str, typer.Option(help=f"Language of the cards: {', '.join(SUPPORTED_LOCALES)}.")
    ] = DEFAULT_LOCALE,
) -> None:
    """Print every 避险明白卡 and 工作明白卡 of a town from its registry (before the flood season).

    Household cards for every household in a hazard zone or a C/D-rated house; work
    cards for every monitor (监测人) and every responsible cadre (包保责任人). A response
    later prints only the household cards the registry marks as not handed out
    (households.csv ``card_issued`` = 0).
    """
    from sanqing.db import session_scope
    from sanqing.outbox.cards import print_cards
    from sanqing.plans import load_plan
    from sanqing.registry import ensure_registry

    if locale not in SUPPORTED_LOCALES:
        raise fail(
            ValueError(f"--locale must be one of {', '.join(SUPPORTED_LOCALES)}, not {locale!r}")
        )
    check_folders(get_settings(), (out, "--out folder"))
    try:
        town_code = ensure_registry(town)
        plan = load_plan()
        with session_scope() as session:
            done = print_cards(session, town_code=town_code, plan=plan, out_dir=out, locale=locale)
    except (SanqingError, LookupError) as exc:
        raise fail(exc) from exc
    console.print(
        plain(
            f"避险明白卡 {done.households} 张（其中未发放 {done.missing} 张），"
            f"监测人工作明白卡 {done.monitors} 张，包保责任人工作明白卡 {done.responsible} 张 → {out}"
        )
    )
