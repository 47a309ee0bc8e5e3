"""The situation board (态势看板) in a real browser: readable, refreshing, printable.

Headless Chromium from the OS packages, driven by Playwright, against the board's own
server on 127.0.0.1 with an open level-Ⅱ response of the sample town (three households
answered: one refused, two unreachable). Screenshots and the printed PDF are kept in
``test-artifacts/board/`` (CI's artifacts); with SANQING_UPDATE_SCREENSHOTS=1 the
screenshot also replaces ``docs/board.png`` that the README shows.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from sanqing.board.server import BoardServer
from sanqing.db import session_scope
from sanqing.models import Activation, Level, Relocation, RelocationStatus
from sanqing.prefect_server import free_port
from sanqing.settings import REPO_ROOT
from sanqing.whatif import simulate
from tests.integration.test_ui_browser import DOCS, browser  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ARTIFACTS = REPO_ROOT / "test-artifacts" / "board"


@pytest.fixture
def board_url(db_url: str) -> Iterator[str]:
    simulate("jifeng", level=Level.II, warning=None)
    with session_scope() as s:
        aid = s.exec(select(Activation.id)).one()
        rels = s.exec(
            select(Relocation).where(Relocation.activation_id == aid).order_by(Relocation.id)
        ).all()
        statuses = [
            RelocationStatus.REFUSED,
            RelocationStatus.UNREACHABLE,
            RelocationStatus.UNREACHABLE,
        ]
        for rel, status in zip(rels, statuses, strict=False):
            rel.status = status
            s.add(rel)
    server = BoardServer("127.0.0.1", free_port())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()


def _keep(path: Path, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, ARTIFACTS / name)
    if os.environ.get("SANQING_UPDATE_SCREENSHOTS") == "1" and name.endswith(".png"):
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS / name)


def test_the_duty_officer_reads_the_board_and_prints_it(
    browser: Any,  # noqa: F811 (the fixture imported above)
    board_url: str,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1100}, locale="zh-CN")
    page.goto(board_url)
    expect(page.get_by_role("heading", name="态势看板")).to_be_visible()
    expect(page.get_by_text("鸡峰镇 · 防汛Ⅱ级应急响应")).to_be_visible()
    # the three answers show in the totals and in their village's row, in red
    expect(page.locator(".figs")).to_contain_text("拒绝 1 户")
    expect(page.locator(".figs")).to_contain_text("联系不上 2 户")
    assert page.locator("td.bad").count() >= 2
    for heading in ("各村转移情况", "险情隐患点", "道路与机械", "地图", "通知发送", "报告时限"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    # the map draws every village of the town, with its name
    assert page.locator("svg circle").count() == 6
    expect(page.locator("svg text").first).to_be_visible()
    # it reloads itself
    assert page.locator('meta[http-equiv="refresh"]').get_attribute("content") == "30"
    shot = tmp_path / "board.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 30_000
    _keep(shot, "board.png")
    # printed: the refresh note is not on paper, the page is a real PDF
    page.emulate_media(media="print")
    assert not page.get_by_text("秒自动刷新").is_visible()
    pdf = tmp_path / "board.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000
    _keep(pdf, "board.pdf")
    page.close()
