"""The rain watch against a real local HTTP feed that changes between polls.

Nothing → an orange rainstorm warning for two villages (response activated for
those villages only) → an update to red (escalated, same activation) → a cancel
(stood down, final report written); a 500 and a timeout in between are retried and lose nothing.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from sanqing.db import session_scope
from sanqing.models import Activation, FeedRecord, Patrol, Relocation, Report
from sanqing.settings import REPO_ROOT, get_settings

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]

CAP = "urn:oasis:names:tc:emergency:cap:1.2"
SENDER = "62122141600000"  # 成县气象台 (illustrative)
V1, V2 = "621221106202", "621221106204"  # 石门村, 河坝村


def cap(
    identifier: str, sent: str, msg_type: str, colour_zh: str, severity: str, references: str = ""
) -> bytes:
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="{CAP}">
  <identifier>{identifier}</identifier>
  <sender>{SENDER}</sender>
  <sent>{sent}</sent>
  <status>Actual</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {refs}
  <info>
    <language>zh-CN</language>
    <category>Met</category>
    <event>暴雨{colour_zh}预警</event>
    <urgency>Immediate</urgency>
    <severity>{severity}</severity>
    <certainty>Likely</certainty>
    <expires>2099-07-13T06:00:00+08:00</expires>
    <senderName>成县气象台</senderName>
    <headline>成县气象台发布暴雨{colour_zh}预警信号</headline>
    <description>预计未来6小时内鸡峰镇石门村、河坝村将出现强降水。</description>
    <area>
      <areaDesc>成县鸡峰镇石门村、河坝村</areaDesc>
      <geocode><valueName>行政区划代码</valueName><value>{V1}</value></geocode>
      <geocode><valueName>行政区划代码</valueName><value>{V2}</value></geocode>
    </area>
  </info>
</alert>
""".encode()


ALERT_ID = f"{SENDER}_20260712183000_1"
UPDATE_ID = f"{SENDER}_20260712203000_2"
CANCEL_ID = f"{SENDER}_20260713013000_3"
ALERT = cap(ALERT_ID, "2026-07-12T18:30:00+08:00", "Alert", "橙色", "Severe")
UPDATE = cap(
    UPDATE_ID,
    "2026-07-12T20:30:00+08:00",
    "Update",
    "红色",
    "Extreme",
    f"{SENDER},{ALERT_ID},2026-07-12T18:30:00+08:00",
)
CANCEL = cap(
    CANCEL_ID,
    "2026-07-13T01:30:00+08:00",
    "Cancel",
    "红色",
    "Extreme",
    f"{SENDER},{ALERT_ID},2026-07-12T18:30:00+08:00 {SENDER},{UPDATE_ID},2026-07-12T20:30:00+08:00",
)


def atom(*entries: str) -> bytes:
    items = "".join(
        f"<entry><id>{e}</id><title>{e}</title><updated>2026-07-12T18:30:00+08:00</updated>"
        f'<link rel="alternate" type="application/cap+xml" href="cap/{e}.xml"/></entry>'
        for e in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<id>urn:feed:chengxian</id><title>成县预警</title><updated>2026-07-12T18:30:00+08:00</updated>"
        f"{items}</feed>"
    ).encode()


@pytest.fixture
def watched_feed(feed_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    (config / "feeds.yaml").write_text(
        f"poll_minutes: 5\nfeeds:\n  - name: 成县预警\n    url: {feed_server.url('/atom.xml')}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SANQING_CONFIG_DIR", str(config))
    monkeypatch.setenv("SANQING_FEED_TIMEOUT_S", "1")
    get_settings.cache_clear()
    feed_server.documents["/cap/" + ALERT_ID + ".xml"] = ALERT
    feed_server.documents["/cap/" + UPDATE_ID + ".xml"] = UPDATE
    feed_server.documents["/cap/" + CANCEL_ID + ".xml"] = CANCEL
    return feed_server


def test_alert_update_cancel_through_the_watch(db_url: str, watched_feed) -> None:  # type: ignore[no-untyped-def]
    from flows.rain_watch import rain_watch
    from sanqing.registry import ensure_registry

    ensure_registry("jifeng")
    # 1. nothing published yet
    watched_feed.documents["/atom.xml"] = atom()
    assert rain_watch() == []
    with session_scope() as s:
        assert s.exec(select(Activation)).all() == []

    # 2. an orange warning for two villages: level II for those villages only
    watched_feed.documents["/atom.xml"] = atom(ALERT_ID)
    out = rain_watch()
    assert [o["decision"]["action"] for o in out] == ["activate"]
    with session_scope() as s:
        (act,) = s.exec(select(Activation)).all()
        assert act.level == "II" and sorted(act.village_codes) == [V1, V2]
        villages = {r.village_code for r in s.exec(select(Relocation))}
        assert villages and villages <= {V1, V2}
        first_id = act.id

    # 3. the feed fails once (500), the poll is retried; the update to red escalates
    watched_feed.documents["/atom.xml"] = atom(ALERT_ID, UPDATE_ID)
    watched_feed.fail_next["/atom.xml"] = 1
    out = rain_watch()
    actions = {o["identifier"]: o["decision"]["action"] for o in out}
    assert actions == {ALERT_ID: "duplicate", UPDATE_ID: "escalate"}
    with session_scope() as s:
        (act,) = s.exec(select(Activation)).all()
        assert act.id == first_id and act.level == "I"

    # 4. the feed times out once, the poll is retried; the cancel stands the response down
    watched_feed.documents["/atom.xml"] = atom(ALERT_ID, UPDATE_ID, CANCEL_ID)
    watched_feed.delay_next["/atom.xml"] = 3.0
    out = rain_watch()
    assert {o["identifier"]: o["decision"]["action"] for o in out}[CANCEL_ID] == "stand_down"
    with session_scope() as s:
        # ... once the after-rain patrol confirms it safe: until then residents stay away
        (act,) = s.exec(select(Activation)).all()
        assert act.status == "active"
        patrol = s.get(Patrol, act.id)
        assert patrol is not None and patrol.all_clear is None and patrol.reason
    result = CliRunner().invoke(app, ["patrol", "--name", "巡查组长", "--danger", "石门洞滑坡"])
    assert result.exit_code == 0, result.output
    with session_scope() as s:
        assert s.exec(select(Activation)).one().status == "active"
    result = CliRunner().invoke(app, ["patrol", "--name", "巡查组长"])
    assert result.exit_code == 0, result.output
    with session_scope() as s:
        (act,) = s.exec(select(Activation)).all()
        assert act.status == "stood_down"
        kinds = [r.kind for r in s.exec(select(Report).where(Report.activation_id == act.id))]
        assert "initial" in kinds and "final" in kinds
        records = {r.identifier: r for r in s.exec(select(FeedRecord))}
        assert set(records) == {ALERT_ID, UPDATE_ID, CANCEL_ID}
        assert records[ALERT_ID].ended and records[UPDATE_ID].ended
    assert (
        watched_feed.requests.count("/atom.xml") == 6
    )  # 4 polls + a retry after the 500 and the timeout


def test_nothing_is_lost_when_a_message_or_the_response_fails(
    db_url: str, watched_feed, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A linked message answering 503 is retried; a response that fails stays pending and runs next poll."""
    import flows.rain_watch as watch
    from sanqing.registry import ensure_registry

    ensure_registry("jifeng")
    watched_feed.documents["/atom.xml"] = atom(ALERT_ID)
    watched_feed.fail_next[f"/cap/{ALERT_ID}.xml"] = 1  # the message, not the index, fails once
    real = watch.flood_response
    calls = {"n": 0}

    def flaky(**kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("Prefect API went away")
        return real(**kw)

    monkeypatch.setattr(watch, "flood_response", flaky)
    with pytest.raises(RuntimeError, match="stay pending"):
        watch.rain_watch()
    with session_scope() as s:
        (record,) = s.exec(select(FeedRecord)).all()
        assert record.action == "activate" and not record.done
        assert s.exec(select(Activation)).all() == []
    # next poll: the index has not changed (304), yet the pending decision is carried out
    watch.rain_watch()
    assert watched_feed.not_modified == 1
    with session_scope() as s:
        (record,) = s.exec(select(FeedRecord)).all()
        (act,) = s.exec(select(Activation)).all()
        assert record.done and record.activation_id == act.id and act.level == "II"
    assert watched_feed.requests.count(f"/cap/{ALERT_ID}.xml") == 2  # 503, then read


def test_a_trickling_feed_never_delays_the_decisions_of_the_others(
    db_url: str, watched_feed, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A second feed sends a byte every half second: the first one's warning is decided
    and stored while it still trickles; it fails alone, at its deadline, saying so."""
    from datetime import UTC, datetime

    from flows.rain_watch import rain_watch
    from sanqing.models import FeedState
    from sanqing.registry import ensure_registry
    from tests.feeds_trickle import TrickleServer

    ensure_registry("jifeng")
    watched_feed.documents["/atom.xml"] = atom(ALERT_ID)
    with TrickleServer() as trickle:
        slow = trickle.url("/body")
        feeds = get_settings().config_dir / "feeds.yaml"
        feeds.write_text(
            feeds.read_text(encoding="utf-8")
            + f"  - name: 慢源\n    url: {slow}\n    deadline_s: 15\n",
            encoding="utf-8",
        )
        out = rain_watch()
        # our client hung up at the deadline; the server notices at its next byte
        deadline = time.monotonic() + 30
        while "/body" not in trickle.hung_up_at and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "/body" in trickle.hung_up_at
        hung_up = datetime.fromtimestamp(trickle.hung_up_at["/body"], tz=UTC)
    assert [o["decision"]["action"] for o in out] == ["activate"]
    with session_scope() as s:
        (record,) = s.exec(select(FeedRecord)).all()
        assert record.identifier == ALERT_ID and record.done
        assert record.received_at < hung_up  # decided while the slow feed still trickled
        assert s.exec(select(Activation)).one().level == "II"
        state = s.get(FeedState, slow)
        assert state is not None and state.last_error and "deadline" in state.last_error
