"""The ledger workbook of one activation: which one, its sheets in order, saved whole."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from sqlmodel import Session, col, select

from sanqing.errors import SanqingError
from sanqing.export import sheets
from sanqing.export.sheets import ZH, Names
from sanqing.export.xlsx import Table, write_tables
from sanqing.labels import label
from sanqing.models import Activation, Town, utcnow
from sanqing.response import get_activation
from sanqing.response.timeline import local_tz


@dataclass(frozen=True)
class Ledger:
    """The workbook of one activation and how many rows each list sheet holds."""

    activation_id: str
    workbook: Workbook
    rows: dict[str, int]


def latest_activation_id(session: Session) -> str:
    """The activation that started last (a drill too): what ``sanqing export`` takes by default."""
    found = session.exec(
        select(Activation.id).order_by(
            col(Activation.activated_at).desc(), col(Activation.id).desc()
        )
    ).first()
    if found is None:
        raise SanqingError(
            "no response or drill in the database yet: start one (sanqing respond, "
            "sanqing drill) or check SANQING_DATABASE_URL / SANQING_DATA_DIR"
        )
    return found


def build_ledger(*, session: Session, activation_id: str, now: datetime | None = None) -> Ledger:
    """The ledger workbook of ``activation_id`` as the database has it now."""
    act = get_activation(session, activation_id)
    town = session.get(Town, act.town_code)
    names = Names.load(session, act)
    contents: list[tuple[str, list[Table]]] = [
        ("概况", sheets.overview(session, act, town, now or utcnow())),
        ("转移台账", [sheets.relocations(session, act, names)]),
        ("安置点", [sheets.shelters(session, act, names)]),
        ("通知", sheets.notices(session, act, names)),
        ("时间线", [sheets.timeline(session, act, names)]),
        ("报告", [sheets.reports(session, act)]),
    ]
    heading = "".join(
        (
            "【演练】" if act.drill else "",
            town.name if town else act.town_code,
            label(ZH, "plan", act.plan),
            label(ZH, "level", act.level),
            "应急响应",
        )
    )
    wb = Workbook()
    wb.remove(wb.active)
    tz = local_tz()
    for title, tables in contents:
        ws = wb.create_sheet(title)
        line = f"{heading} {title}（{act.id}；时间为{tz.key}本地时间）"
        write_tables(ws, title=line, tables=tables, tz=tz, freeze=title != "概况")
    wb.properties.title = f"{heading}台账"
    rows = {title: len(tables[-1].rows) for title, tables in contents if title != "概况"}
    return Ledger(activation_id=act.id, workbook=wb, rows=rows)


def save_ledger(ledger: Ledger, path: Path) -> None:
    """Write the workbook to ``path`` whole: through a temporary file, then renamed.

    A file Excel holds open, a folder without the right to write or a full disk is
    one error naming the path; the file there before is left as it was.
    """
    if path.suffix.lower() != ".xlsx":
        raise SanqingError(f"{path}: the file name must end in .xlsx (Excel opens it by that)")
    tmp = path.with_name(f".{path.name}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ledger.workbook.save(tmp)
        tmp.replace(path)
    except OSError as exc:
        with suppress(OSError):  # nothing to remove when the folder itself is the problem
            tmp.unlink(missing_ok=True)
        raise SanqingError(f"{path}: cannot write the workbook ({exc.strerror or exc})") from exc
