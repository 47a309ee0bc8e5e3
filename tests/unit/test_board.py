"""The situation board (态势看板): its figures, its page, and its server.

The golden page (``tests/golden/<locale>/board/board.html``) is the board of a fixed
response; after a deliberate change::

    SANQING_UPDATE_GOLDEN=1 pytest tests/unit/test_board.py
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlmodel import select

from sanqing.board import board, render_board
from sanqing.board.server import BoardServer
from sanqing.db import session_scope
from sanqing.models import (
    Activation,
    Cadre,
    Channel,
    Inspection,
    Level,
    Notice,
    NoticeStatus,
    Relocation,
    RelocationStatus,
    Village,
    utcnow,
)
from sanqing.prefect_server import free_port
from sanqing.reporting import summarize
from sanqing.settings import SUPPORTED_LOCALES
from sanqing.whatif import simulate
from tests.unit.test_templates import GOLDEN_DIR, UPDATE_GOLDEN

#: Templates golden-tested here (test_templates checks every template has a golden test).
BOARD_TEMPLATES = ["board/board.html"]


def _open_response() -> str:
    """A level-Ⅱ response of the sample town with its moves ordered (the plan's own steps)."""
    simulate("jifeng", level=Level.II, warning=None)
    with session_scope() as s:
        return s.exec(select(Activation.id)).one()


def _set_status(activation_id: str, village: str, statuses: list[RelocationStatus]) -> None:
    with session_scope() as s:
        rels = s.exec(
            select(Relocation)
            .where(Relocation.activation_id == activation_id, Relocation.village_code == village)
            .order_by(Relocation.id)
        ).all()
        for rel, status in zip(rels, statuses, strict=False):
            rel.status = status
            s.add(rel)


def test_the_board_gives_each_village_the_figures_of_the_response(db_url: str) -> None:
    aid = _open_response()
    with session_scope() as s:
        village = sorted(s.exec(select(Activation)).one().village_codes)[1]
    R = RelocationStatus
    _set_status(aid, village, [R.REFUSED, R.UNREACHABLE, R.UNREACHABLE, R.IN_SHELTER, R.MOVED])
    with session_scope() as s:
        data = board(s)
        figs = summarize(session=s, activation_id=aid)
    (resp,) = data["responses"]
    assert resp["activation_id"] == aid and resp["level"] == "II" and resp["state"] == "running"
    assert resp["villages"] == figs["village_figures"]
    row = next(v for v in resp["villages"] if v["code"] == village)
    assert (row["refused"], row["unreachable"], row["households_relocated"]) == (1, 2, 2)
    assert resp["totals"]["households_refused"] == 1
    assert resp["totals"]["households_unreachable"] == 2
    assert resp["totals"]["households_to_relocate"] == figs["households_to_relocate"] > 0
    # every hazard point of the response is on the checklist; no report yet: the 首报 is due
    with session_scope() as s:
        listed = len(set(s.exec(select(Inspection.hazard_code))))
    assert resp["totals"]["hazard_points_listed"] == listed > 0
    assert [(r["kind"], r["written_at"]) for r in resp["reports"]] == [("initial", None)]
    # the map holds every village of the town, those of the response marked
    assert {v["name"] for v in resp["map"]["villages"] if v["moving"]} == {
        v["name"] for v in resp["villages"]
    }
    m = resp["map"]
    for place in (*m["villages"], *m["hazards"], *m["shelters"]):
        assert 0 <= place["x"] <= m["width"] and 0 <= place["y"] <= m["height"]


def test_a_cadre_task_not_acknowledged_counts_down_and_turns_late(db_url: str) -> None:
    aid = _open_response()
    now = utcnow()
    with session_scope() as s:
        cadre = s.exec(select(Cadre)).first()
        assert cadre is not None
        for n, minutes_ago in enumerate((5, 40)):
            s.add(
                Notice(
                    id=f"{aid}:task_list:test:{cadre.code}:{n}",
                    activation_id=aid,
                    village_code=cadre.village_code,
                    channel=Channel.TASK_LIST,
                    purpose="tasks",
                    audience="cadre",
                    recipient=cadre.code,
                    locale="zh-CN",
                    subject="任务单",
                    body="…",
                    status=NoticeStatus.SENT,
                    created_at=now,
                    sent_at=now - timedelta(minutes=minutes_ago),
                )
            )
    with session_scope() as s:
        (resp,) = board(s, now=now)["responses"]
    within = 15  # the sample plan's acknowledgement.within_minutes
    assert [a["minutes_left"] for a in resp["acks"]] == [within - 40, within - 5]
    assert resp["acks"][0]["who"] == f"{cadre.title} {cadre.name}"
    page = render_board({"generated_at": now.isoformat(), "responses": [resp]})
    assert f"已超时 {40 - within} 分钟" in page and f"{within - 5} 分钟" in page
    assert resp["delivery"]["task_list"]["sent"] >= 2


def test_names_from_the_ledger_reach_the_page_as_text(db_url: str) -> None:
    aid = _open_response()
    hostile = '<script>alert("x")</script>&'
    with session_scope() as s:
        act = s.get(Activation, aid)
        assert act is not None
        v = s.get(Village, act.village_codes[0])
        assert v is not None
        v.name = hostile
        s.add(v)
    with session_scope() as s:
        page = render_board(board(s))
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;" in page


def test_with_no_open_response_the_board_says_so(db_url: str) -> None:
    with session_scope() as s:
        page = render_board(board(s))
    assert "当前没有进行中的应急响应" in page and 'http-equiv="refresh"' in page


@pytest.fixture
def served(db_url: str, request: pytest.FixtureRequest) -> Iterator[BoardServer]:
    auth = getattr(request, "param", None)
    # a Prefect API that is not there: the board still answers, and says so
    server = BoardServer(
        "127.0.0.1",
        free_port(),
        auth=auth,
        api_url=f"http://127.0.0.1:{free_port()}/api",
        ui_url="http://127.0.0.1:1",
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_the_server_answers_the_page_its_data_and_not_found(served: BoardServer) -> None:
    aid = _open_response()
    page = httpx.get(served.url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert aid in page.text and "无法读取 Prefect 流程" in page.text
    data = httpx.get(f"{served.url}board.json").json()
    assert [r["activation_id"] for r in data["responses"]] == [aid]
    assert data["waiting"] == [] and data["prefect_error"]
    assert httpx.get(f"{served.url}nothing").status_code == 404


@pytest.mark.parametrize("served", ["duty:flood-2026"], indirect=True)
def test_with_a_password_the_board_asks_for_it(served: BoardServer) -> None:
    assert httpx.get(served.url).status_code == 401
    assert httpx.get(served.url, auth=("duty", "wrong")).status_code == 401
    bad = httpx.get(served.url, headers={"Authorization": "Basic !!!"})
    assert bad.status_code == 401
    assert httpx.get(served.url, auth=("duty", "flood-2026")).status_code == 200


def _fixed_board() -> dict[str, Any]:
    """A response as the board would read it, at fixed times (for the golden page)."""
    t = "2026-07-12T10:30:00+00:00"
    village = {
        "code": "621221106202",
        "name": "石门村",
        "households_to_relocate": 88,
        "households_relocated": 80,
        "in_shelter": 250,
        "refused": 1,
        "unreachable": 2,
        "shortfall_people": 0,
    }
    return {
        "generated_at": "2026-07-12T11:00:00+00:00",
        "responses": [
            {
                "activation_id": "flood-621221106-warning-20260712",
                "town": "鸡峰镇",
                "plan": "flood",
                "level": "II",
                "drill": False,
                "since": t,
                "state": "awaiting_patrol",
                "villages": [village],
                "totals": {
                    "households_to_relocate": 88,
                    "people_to_relocate": 324,
                    "households_relocated": 80,
                    "people_relocated": 300,
                    "households_refused": 1,
                    "households_unreachable": 2,
                    "households_unconfirmed": 5,
                    "shelter_shortfall_people": 0,
                    "hazard_points_inspected": 12,
                    "hazard_points_dangerous": 1,
                    "hazard_points_listed": 45,
                },
                "dangers": [{"hazard": "石门洞滑坡", "finding": "后缘出现新裂缝"}],
                "roads": [
                    {
                        "road": "石门段",
                        "cause": "塌方",
                        "status": "dispatched",
                        "machine": "挖掘机1号",
                    }
                ],
                "machines_dispatched": 1,
                "delivery": {"sms": {"sent": 300, "failed": 2, "pending": 0}},
                "acks": [
                    {
                        "channel": "task_list",
                        "who": "网格员 李四",
                        "village": "石门村",
                        "sent_at": t,
                        "due_at": t,
                        "minutes_left": -15,
                    }
                ],
                "reports": [
                    {
                        "title": "鸡峰镇人民政府关于防汛Ⅱ级应急响应情况的报告（首报）",
                        "kind": "initial",
                        "deadline_at": t,
                        "written_at": t,
                        "late": False,
                        "status": "sent",
                        "minutes_left": None,
                    }
                ],
                "timeline": [
                    {"at": t, "actor": "石门村", "action": "下达转移指令", "detail": "新增转移88户"}
                ],
                "map": {
                    "width": 640,
                    "height": 420,
                    "villages": [{"name": "石门村", "x": 320.0, "y": 210.0, "moving": True}],
                    "hazards": [{"name": "石门洞滑坡", "x": 300.0, "y": 200.0, "state": "danger"}],
                    "shelters": [
                        {"name": "石门村小学", "x": 340, "y": 220, "capacity": 170, "people": 170}
                    ],
                },
            }
        ],
    }


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_page_matches_its_golden_file(locale: str) -> None:
    waiting = [
        {
            "id": "run-1",
            "name": "patrol-鸡峰镇",
            "town": "鸡峰镇",
            "since": "2026-07-12T10:50:00+00:00",
            "waiting_for": "雨后巡查确认",
            "url": "http://127.0.0.1:4200/v2/runs/flow-run/run-1",
        }
    ]
    page = render_board(_fixed_board(), waiting=waiting, locale=locale)
    golden = GOLDEN_DIR / locale / "board" / "board.html"
    if UPDATE_GOLDEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(page, encoding="utf-8")
    assert page == golden.read_text(encoding="utf-8"), (
        f"the board differs from {golden}; if meant, rerun with SANQING_UPDATE_GOLDEN=1"
    )


def test_the_print_folder_is_served_and_nothing_outside_it(
    served: BoardServer, data_dir: Path
) -> None:
    folder = data_dir / "print" / "flood-621221106-manual-20261203" / "notices" / "door_visit"
    folder.mkdir(parents=True)
    (folder / "石门村-张三.html").write_text("<p>入户叫应清单</p>", encoding="utf-8")
    (data_dir / "secret.txt").write_text("not for the network", encoding="utf-8")
    (folder / "link.txt").symlink_to(data_dir / "secret.txt")
    top = httpx.get(f"{served.url}print/")
    assert top.status_code == 200 and "flood-621221106-manual-20261203/" in top.text
    listing = httpx.get(f"{served.url}print/flood-621221106-manual-20261203/notices/door_visit/")
    assert "石门村-张三.html" in listing.text
    page = httpx.get(
        f"{served.url}print/flood-621221106-manual-20261203/notices/door_visit/"
        + quote("石门村-张三.html")
    )
    assert page.status_code == 200 and page.text == "<p>入户叫应清单</p>"
    assert page.headers["content-type"].startswith("text/html")
    for outside in ("print/../secret.txt", "print/%2e%2e/secret.txt", "print/..%2fsecret.txt"):
        assert httpx.get(served.url + outside).status_code == 404, outside
    link = "print/flood-621221106-manual-20261203/notices/door_visit/link.txt"
    assert httpx.get(served.url + link).status_code == 404
