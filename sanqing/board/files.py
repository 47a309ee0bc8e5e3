"""The print folder over HTTP: a response's rendered notices, cards and reports.

The runs write them under ``<data dir>/print/<activation>/`` (names of residents stay
on this machine, never in Prefect); the board serves that folder so the duty officer
opens a door-visit list or the cards from the run's link and prints them. A path is
resolved inside the folder or refused: no ``..`` or link leads out of it.
"""

from __future__ import annotations

import html
import urllib.parse
from pathlib import Path

#: Content types of what the print folder holds.
MIME = {
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".pdf": "application/pdf",
    ".png": "image/png",
}


def resolve(root: Path, rest: str) -> Path | None:
    """``root/rest`` when it exists inside ``root`` (links resolved), else None."""
    try:
        base = root.resolve(strict=True)
        target = (base / urllib.parse.unquote(rest)).resolve(strict=True)
    except (OSError, ValueError):
        return None
    return target if target == base or target.is_relative_to(base) else None


def listing(folder: Path, rest: str) -> str:
    """A folder's entries as links (folders first), names escaped."""
    prefix = "/print/" + (urllib.parse.quote(rest.strip("/")) + "/" if rest.strip("/") else "")
    entries = sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name))
    rows = [
        f'<li><a href="{prefix}{urllib.parse.quote(p.name)}{"/" if p.is_dir() else ""}">'
        f"{html.escape(p.name)}{'/' if p.is_dir() else ''}</a></li>"
        for p in entries
    ]
    up = '<p><a href="../">上一级 / up</a> · <a href="/">态势看板</a></p>' if rest else ""
    title = html.escape("打印文件夹 / print folder" + (f": {rest}" if rest else ""))
    return (
        '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
        f'<title>{title}</title><body style="font:16px sans-serif;margin:2em">'
        f"<h1>{title}</h1>{up}<ul>{''.join(rows) or '<li>（空）</li>'}</ul></body></html>"
    )
