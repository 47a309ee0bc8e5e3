"""The board as one HTML page (``templates/<locale>/board/board.html.j2``), printable."""

from __future__ import annotations

from typing import Any

from sanqing.outbox.rendering import render

#: How often the page reloads itself (seconds).
REFRESH_S = 30


def render_board(
    data: dict[str, Any],
    *,
    waiting: list[dict[str, Any]] | None = None,
    prefect_error: str | None = None,
    locale: str = "zh-CN",
    refresh_s: int = REFRESH_S,
) -> str:
    """The page for ``data`` (``board()``), with the Prefect runs waiting for an answer."""
    return render(
        "board/board.html",
        locale=locale,
        generated_at=data["generated_at"],
        responses=data["responses"],
        waiting=waiting or [],
        prefect_error=prefect_error,
        refresh_s=refresh_s,
    )
