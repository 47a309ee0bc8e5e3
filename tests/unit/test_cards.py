"""两卡 (sanqing/outbox/cards.py, ``sanqing cards``) and the registry columns they read."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from cli.main import app
from sanqing import db
from sanqing.errors import RegistryError
from sanqing.models import Cadre, CadreRole, Household, Shelter, Town
from sanqing.outbox.cards import card_kind, load_book
from sanqing.registry import ensure_registry, load_town_dir
from sanqing.settings import REPO_ROOT

JIFENG_DIR = REPO_ROOT / "config" / "towns" / "jifeng"


def _table(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _write(path: Path, table: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)


@pytest.fixture
def jifeng_copy(tmp_path: Path) -> Path:
    town_dir = tmp_path / "jifeng"
    shutil.copytree(JIFENG_DIR, town_dir)
    return town_dir


# --- the sample registry ----------------------------------------------------------------


def test_the_sample_speaks_of_she_and_keeps_the_health_centre_out_of_the_shelters(
    db_url: str,
) -> None:
    ensure_registry("jifeng")
    with db.session_scope() as s:
        households = list(s.exec(select(Household)))
        assert {h.group_name[-1] for h in households} == {"社"}
        assert all("组" not in h.address for h in households)
        leaders = s.exec(select(Cadre).where(Cadre.role == CadreRole.GROUP_LEADER)).all()
        assert leaders and all(re.search(r"[一二三四五六七八]社社长$", c.title) for c in leaders)
        assert all("卫生院" not in x.name for x in s.exec(select(Shelter)))
        town = s.get(Town, "621221106")
        assert town is not None and town.medical_unit == "鸡峰镇卫生院"
        assert town.medical_unit_phone and town.medical_unit_phone.startswith("0939-")
        issued = [h.card_issued for h in households]
        # Most cards were handed out before the season, some are missing.
        assert 0 < issued.count(False) < len(issued) // 10


def test_card_issued_is_optional_and_checked(db_url: str, jifeng_copy: Path) -> None:
    path = jifeng_copy / "households.csv"
    table = _table(path)
    col = table[0].index("card_issued")
    code = table[1][0]
    table[1][col] = "0"
    _write(path, table)
    with db.session_scope() as s:
        load_town_dir(s, jifeng_copy).raise_for_problems()
    with db.session_scope() as s:
        h = s.get(Household, code)
        assert h is not None and h.card_issued is False

    table[1][col] = "yes"
    _write(path, table)
    with db.session_scope() as s:
        report = load_town_dir(s, jifeng_copy)
    bad = [p for p in report.problems if p.file.name == "households.csv"]
    assert [(p.row, p.column) for p in bad] == [(2, "card_issued")]
    assert "1 or 0" in bad[0].reason
    with pytest.raises(RegistryError, match="card_issued"):
        report.raise_for_problems()

    # An older ledger without the column: every card counts as handed out.
    _write(path, [row[:col] + row[col + 1 :] for row in table])
    with db.session_scope() as s:
        load_town_dir(s, jifeng_copy).raise_for_problems()
    with db.session_scope() as s:
        h = s.get(Household, code)
        assert h is not None and h.card_issued is True


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (["river_channel", "landslide"], "geological"),
        (["debris_flow"], "geological"),
        (["river_channel"], "flash_flood"),
        (["waterlogging_road"], "flash_flood"),
        (["unsafe_house"], "house"),
        ([], "house"),
    ],
)
def test_the_card_title_follows_the_hazard(kinds: list[str], expected: str) -> None:
    assert card_kind(kinds) == expected


# --- sanqing cards ------------------------------------------------------------------------


def test_sanqing_cards_prints_every_card_of_the_town(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "cards"
    result = CliRunner().invoke(app, ["cards", "--town", "jifeng", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with db.session_scope() as s:
        book = load_book(s, town_code="621221106")
        holders = book.holders()
        monitors = {h.monitor_cadre_code for h in book.hazards.values() if h.monitor_cadre_code}
        responsible = {h.responsible_cadre_code for h in holders if h.responsible_cadre_code}
    household = sorted((out / "household").rglob("*.html"))
    assert len(household) == len(holders)
    assert len(list((out / "monitor").glob("*.html"))) == len(monitors)
    assert len(list((out / "responsible").glob("*.html"))) == len(responsible)
    assert f"避险明白卡 {len(holders)} 张" in result.output

    titles = {"地质灾害防灾避险明白卡", "山洪灾害防御明白卡", "危房避险明白卡"}
    seen = set()
    for path in household:
        text = path.read_text(encoding="utf-8")
        title = re.search(r"<h1>(.*?)</h1>", text)
        assert title and title.group(1) in titles
        seen.add(title.group(1))
        for field in ("编号", "家庭成员", "房屋类别", "灾害体与住户位置关系", "监测人及电话",
                      "预警信号发布人及电话", "安置点负责人及电话", "救护单位及电话",
                      "发卡单位", "户主签名"):  # fmt: skip
            assert field in text, (path.name, field)
        assert "鸡峰镇卫生院" in text
        assert not re.search(r"\d{17}[\dX]", text)  # no ID numbers on a card
    assert seen == titles  # the sample has all three kinds of household

    monitor = next((out / "monitor").glob("*.html")).read_text(encoding="utf-8")
    assert "监测人工作明白卡" in monitor and "查看" not in monitor and "；" in monitor
    cadre = next((out / "responsible").glob("*.html")).read_text(encoding="utf-8")
    assert "包保责任人工作明白卡" in cadre and "安置点及负责人" in cadre and "撤离路线" in cadre


def test_sanqing_cards_keeps_names_from_the_ledger_inside_its_folder(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_registry("jifeng")
    with db.session_scope() as s:
        h = s.get(Household, "621221106202-H0001")
        assert h is not None
        h.head_name = "../../逃出"
        s.add(h)
    out = tmp_path / "cards"
    result = CliRunner().invoke(app, ["cards", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for path in out.rglob("*"):
        assert path.resolve().is_relative_to(out.resolve())
    assert list((out / "household" / "石门村").glob("621221106202-H0001-*逃出*.html"))


def test_sanqing_cards_names_an_unknown_town(db_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["cards", "--town", "nowhere", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "nowhere" in result.output
