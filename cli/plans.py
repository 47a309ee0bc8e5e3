"""``sanqing plans print``: each village's 村级疫情、汛情防控预案, printed from the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import TownOption, check_folders, console, fail, plain
from sanqing.errors import SanqingError
from sanqing.settings import DEFAULT_LOCALE, SUPPORTED_LOCALES, get_settings

DEFAULT_PLANS_OUT = Path("plans-output")

plans_app = typer.Typer(help="The villages' plan documents.", no_args_is_help=True)


@plans_app.command("print")
def print_plans(
    town: TownOption,
    out: Annotated[
        Path, typer.Option(help="Folder for <village code>.html and .txt.")
    ] = DEFAULT_PLANS_OUT,
    locale: Annotated[
        str, typer.Option(help=f"Language of the plans: {', '.join(SUPPORTED_LOCALES)}.")
    ] = DEFAULT_LOCALE,
    village: Annotated[str | None, typer.Option(help="Only this village (code or name).")] = None,
) -> None:
    """Print each village's epidemic and flood plan (村级疫情、汛情防控预案) from the registry.

    Mixed group and leader, grids, points and 24-hour duty, hazard points, shelters
    and routes, special groups and their 包保责任人: one printable HTML file and one
    text file per village, named by the village's code.
    """
    from sanqing.db import session_scope
    from sanqing.epidemic.plan import load_epidemic_plan
    from sanqing.plandoc import print_village_plans
    from sanqing.registry import ensure_registry

    if locale not in SUPPORTED_LOCALES:
        raise fail(
            ValueError(f"--locale must be one of {', '.join(SUPPORTED_LOCALES)}, not {locale!r}")
        )
    check_folders(get_settings(), (out, "--out folder"))
    try:
        plan = load_epidemic_plan()
        town_code = ensure_registry(town)
        with session_scope() as session:
            done = print_village_plans(
                session, town_code=town_code, plan=plan, out_dir=out, locale=locale, village=village
            )
    except (SanqingError, LookupError) as exc:
        raise fail(exc) from exc
    for v, files in done.villages:
        console.print(
            plain(f"{v.name}（{v.code}）→ {'，'.join(str(f) for f in files)}"), soft_wrap=True
        )
    console.print(plain(f"村级防控预案 {len(done.villages)} 份 / village plan(s) → {out}"))
