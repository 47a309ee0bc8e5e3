"""``sanqing review``: the after-action review (复盘) of one activation, as markdown or HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import err, fail, plain
from sanqing.errors import SanqingError, UnknownActivation
from sanqing.settings import DEFAULT_LOCALE, SUPPORTED_LOCALES


def review(
    activation: Annotated[
        str, typer.Argument(help="The activation's id (as `sanqing status` lists it).")
    ],
    locale: Annotated[
        str, typer.Option(help=f"Language of the review: {', '.join(SUPPORTED_LOCALES)}.")
    ] = DEFAULT_LOCALE,
    html: Annotated[
        Path | None, typer.Option(help="Also write the review as a printable HTML page here.")
    ] = None,
) -> None:
    """The after-action review (复盘) of a response: its timeline, every deadline met or
    missed, how fast households were reached, roll-call completeness, escalations.

    Printed as markdown; household codes only, no resident's name or phone.
    """
    from sanqing.db import init_db, session_scope
    from sanqing.review import build_review, review_html, review_markdown

    if locale not in SUPPORTED_LOCALES:
        raise fail(
            ValueError(f"--locale must be one of {', '.join(SUPPORTED_LOCALES)}, not {locale!r}")
        )
    try:
        init_db()
        with session_scope() as session:
            found = build_review(session=session, activation_id=activation)
        text = review_markdown(found, locale=locale)
        if html is not None:
            html.write_text(review_html(found, locale=locale), encoding="utf-8")
    except UnknownActivation as exc:
        raise fail(
            SanqingError(f"{exc}: see `sanqing status --days 365` for the activations")
        ) from exc
    except (SanqingError, OSError) as exc:
        raise fail(exc) from exc
    typer.echo(text, nl=False)
    if html is not None:
        err.print(plain(f"HTML: {html}"), highlight=False)
