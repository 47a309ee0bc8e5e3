"""Paths built from data: names from a registry or a feed never leave the folder they are for."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.exc import StatementError
from sqlmodel import select

from sanqing.db import session_scope, upsert
from sanqing.delivery.channels.base import Message
from sanqing.delivery.channels.file import FileSender, deliver_to_files
from sanqing.delivery.channels.loudspeaker import Loudspeaker
from sanqing.errors import SanqingError, UnsafePath
from sanqing.models import Cadre, Household, Notice, Report, Village
from sanqing.paths import COMPONENT_MAX_BYTES, inside, safe_component
from sanqing.plans import Level
from tests.unit.test_response import NOW, activate

HOSTILE = [
    "../../x",
    "../../../../x",
    "a/b",
    "a\\b",
    "..",
    ".",
    "",
    "a\x00b",
    "\u202etxt.exe",
    "村\u200b名",
    "名" * 300,
    "a" * 300,
    "/etc/passwd",
    "~",
    "-rf",
    "c:",
    "x\n[/red]",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_component_from_data_is_one_plain_name(name: str) -> None:
    clean = safe_component(name)
    assert clean and clean not in (".", "..")
    assert "/" not in clean and "\\" not in clean and "\x00" not in clean
    assert not clean.startswith((".", "-", "~"))
    assert len(clean.encode("utf-8")) <= COMPONENT_MAX_BYTES
    assert all(ch.isalnum() or ch in "-_." for ch in clean), clean
    assert safe_component(name) == clean  # the same name, the same file
    assert Path(clean).name == clean


def test_plain_names_stay_as_they_are_and_look_alikes_stay_apart() -> None:
    for name in ("鸡心村", "张三", "621221106201-H0001", "initial-0", "act_1.v2"):
        assert safe_component(name) == name
    assert safe_component("cafe\u0301") == "café"  # NFC: one spelling, one file
    cleaned = {safe_component(n) for n in ("a/b", "a_b", "a\\b", "a:b", "村\u200b名", "村名")}
    assert len(cleaned) == 6  # names that clean up alike get a hash of the original
    long = safe_component("名" * 300)
    assert long.startswith("名" * 30) and long != safe_component("名" * 299)


def test_a_suffix_is_kept_whole_within_the_limit() -> None:
    name = safe_component("名" * 300, suffix=".html")
    assert name.endswith(".html") and len(name.encode("utf-8")) <= COMPONENT_MAX_BYTES
    assert safe_component("..", suffix=".txt").endswith(".txt")
    assert safe_component("x", suffix=".txt") == "x.txt"


def test_inside_joins_safe_components_and_refuses_a_way_out(tmp_path: Path) -> None:
    root = tmp_path / "out"
    assert inside(root, "notices", "../../x", "a/b", suffix=".txt") == (
        root / "notices" / safe_component("../../x") / safe_component("a/b", suffix=".txt")
    )
    # a symlink planted in the folder cannot lead out of it either
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", root / "link")
    with pytest.raises(UnsafePath, match="outside") as caught:
        inside(root, "link", "x.txt")
    assert isinstance(caught.value, SanqingError) and str(root) in str(caught.value)


def _hostile_names(db_url: str) -> None:
    """Give the registry names a careless or hostile ledger could hold."""
    nul = "\x00" if db_url.startswith("sqlite") else "\x07"  # PostgreSQL text takes no NUL
    with session_scope() as s:
        villages = list(s.exec(select(Village).order_by(Village.code)))
        names = ["../../../../x", f"a{nul}b", "\u202e村", "名" * 300, "..", "[/red]x"]
        for v, name in zip(villages, names, strict=False):
            v.name = name
            s.add(v)
        for c in s.exec(select(Cadre)):
            c.name = "a/b" if c.role != "town_leader" else ".."
            s.add(c)
        for h in s.exec(select(Household)):
            h.head_name = ".."
            s.add(h)


def test_every_file_of_a_hostile_registry_lands_under_the_folder(
    db_url: str, tmp_path: Path
) -> None:
    act = activate(Level.II)
    _hostile_names(db_url)
    with session_scope() as s:
        villages = [v.code for v in s.exec(select(Village).order_by(Village.code))]
        cadres = list(s.exec(select(Cadre).where(Cadre.village_code == villages[0])))
        channels = ("sms", "wechat", "loudspeaker", "card", "door_visit", "task_list")
        upsert(
            s,
            Notice,
            [
                {
                    "id": f"{act}:{channel}:{v}:{i}",
                    "activation_id": act,
                    "village_code": v,
                    "channel": channel,
                    "purpose": "test",
                    "audience": "resident",
                    "recipient": ("../../../../h" if i else cadres[0].code)
                    if channel in ("card", "door_visit", "task_list")
                    else f"{v}-H0001",
                    "address": "13912340000",
                    "locale": "zh-CN",
                    "subject": "s",
                    "body": "b",
                    "body_format": "html" if channel in ("card", "door_visit") else "text",
                    "status": "pending",
                    "attempts": 0,
                    "created_at": NOW,
                }
                for v in villages
                for channel in channels
                for i in range(2)
            ],
        )
        report = {
            "id": f"{act}:report",
            "activation_id": act,
            "kind": "../../../../r",
            "seq": 0,
            "title": "t",
            "text": "t",
            "html": "<p>t</p>",
            "payload": {},
            "locale": "zh-CN",
            "created_at": NOW,
            "deadline_at": NOW,
        }
    # a report's kind names its file: the database takes only the kinds there are
    with (
        pytest.raises(StatementError, match="not among the defined enum values"),
        session_scope() as s,
    ):
        upsert(s, Report, [report])
    with session_scope() as s:
        upsert(s, Report, [{**report, "kind": "final"}])
    out = tmp_path / "a" / "b" / "out"
    with session_scope() as s:
        written = deliver_to_files(session=s, activation_id=act, out_dir=out)
    assert sum(written.notices.values()) == len(villages) * len(channels) * 2
    assert set(os.listdir(tmp_path)) - {"data"} == {"a"} and os.listdir(tmp_path / "a") == ["b"]
    assert os.listdir(tmp_path / "a" / "b") == ["out"]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files
    for f in files:
        assert f.resolve().is_relative_to(out.resolve())
        assert all(len(part.encode("utf-8")) <= 255 for part in f.relative_to(out).parts)
        assert not any(part.startswith(".") for part in f.relative_to(out).parts)
    # one file per village and channel for the group messages: no two villages share one
    assert len(list((out / "notices" / "wechat").iterdir())) == len(villages)


def test_the_outbox_folder_and_the_loudspeaker_keep_keys_inside(tmp_path: Path) -> None:
    folder = tmp_path / "outbox" / "sms"
    for key in ("../../../../x", "a/b", "..", "\u202e" + "名" * 300):
        msg = Message(key=key, channel="sms", to="13912340000", subject="s", text="t")
        result = FileSender(folder).send(msg)
        assert Path(str(result.provider_id)).parent == folder
        spoken = Loudspeaker(tmp_path / "speaker", espeak=None).send(msg)
        assert Path(str(spoken.provider_id)).parent == tmp_path / "speaker"
    assert sorted(os.listdir(tmp_path)) == ["outbox", "speaker"]
