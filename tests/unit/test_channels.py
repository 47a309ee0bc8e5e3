"""Delivery channels (sanqing/delivery/channels/*) against fake endpoints on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import pickle
import socket
import stat
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sanqing.delivery.channels.base import Message, Sender
from sanqing.delivery.channels.county import CountyReceiver
from sanqing.delivery.channels.dingtalk import DingTalkRobot
from sanqing.delivery.channels.http import RateLimiter, redact
from sanqing.delivery.channels.loudspeaker import Loudspeaker
from sanqing.delivery.channels.sms_gateway import SmsGateway
from sanqing.delivery.channels.wecom import WeComRobot
from sanqing.errors import ChannelError
from tests.fakes import FakeEndpoint

PHONE = "13912345678"
TEXT = "【三清镇防汛】河水上涨，请上游组村民立即沿东路转移到村小学安置点。"
KEY = "act-1:sms:warn:h-007"


def message(
    text: str = TEXT,
    *,
    to: str | None = None,
    channel: str = "sms",
    key: str = KEY,
    subject: str = "汛情通知",
    payload: dict[str, Any] | None = None,
) -> Message:
    return Message(key=key, channel=channel, to=to, subject=subject, text=text, payload=payload)


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    with FakeEndpoint() as ep:
        yield ep


class FakeClock:
    """A clock that only moves when the limiter sleeps (or the test says so)."""

    def __init__(self, *, frozen: bool = False) -> None:
        self.now = 1000.0
        self.frozen = frozen
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if not self.frozen:
                self.now += seconds


# --- the fake endpoint itself ------------------------------------------------------------------


def test_fake_endpoint_dedupes_on_idempotency_key() -> None:
    with FakeEndpoint(dedupe=True) as ep, httpx.Client() as http:
        first = http.post(ep.url("/x"), json={"n": 1}, headers={"Idempotency-Key": "k"})
        again = http.post(ep.url("/x"), json={"n": 1}, headers={"Idempotency-Key": "k"})
        other = http.post(ep.url("/x"), json={"n": 2}, headers={"Idempotency-Key": "k2"})
    assert first.json() == again.json() != other.json()
    assert ep.delivered == {"k": {"n": 1}, "k2": {"n": 2}}
    assert ep.duplicates == 1
    assert [r.duplicate for r in ep.requests] == [False, True, False]


def test_fake_endpoint_without_dedupe_delivers_twice() -> None:
    with FakeEndpoint() as ep, httpx.Client() as http:
        ep.fail_next(1, status=503)
        codes = [
            http.post(ep.url(), json={}, headers={"Idempotency-Key": "k"}).status_code
            for _ in range(3)
        ]
    assert codes == [503, 200, 200]
    assert list(ep.delivered) == ["k"]
    assert ep.duplicates == 1  # the third request was delivered again


def test_fake_endpoint_fails_every_third_request_and_orders_arrivals() -> None:
    with FakeEndpoint(dedupe=True) as a, FakeEndpoint() as b, httpx.Client() as http:
        a.fail_every(3, status=503)
        codes = [
            http.post(a.url(), json={}, headers={"Idempotency-Key": f"k{i}"}).status_code
            for i in range(6)
        ]
        http.post(b.url(), json={}, headers={"Idempotency-Key": "other"})
        http.post(a.url(), json={}, headers={"Idempotency-Key": "k2"})  # k2 failed before
    assert codes == [200, 200, 503, 200, 200, 503]
    assert set(a.delivered) == {"k0", "k1", "k3", "k4", "k2"}
    assert set(a.accepted.values()) == {1}
    seqs = [r.seq for r in a.requests]
    assert seqs == sorted(seqs) and a.requests[5].seq < b.requests[0].seq < a.requests[6].seq


# --- SMS gateway -------------------------------------------------------------------------------


def test_sms_payload_headers_and_provider_id(endpoint: FakeEndpoint) -> None:
    text = "汛" * 71  # one character over a single UCS-2 segment
    with SmsGateway(endpoint.url("/sms"), key="s3cret", sender="三清镇") as gw:
        result = gw.send(message(text, to=PHONE))
    (req,) = endpoint.requests
    assert req.method == "POST" and req.path == "/sms"
    assert req.body == {"to": PHONE, "text": text, "segments": 2, "sender": "三清镇"}
    assert req.headers["idempotency-key"] == KEY
    assert req.headers["authorization"] == "Bearer s3cret"
    assert req.headers["content-type"].startswith("application/json")
    assert result.provider_id == "fake-1"


def test_sms_without_key_sends_no_authorization_and_reads_message_id(
    endpoint: FakeEndpoint,
) -> None:
    endpoint.reply_json({"message_id": 42})
    with SmsGateway(endpoint.url(), template="FLOOD_1") as gw:
        result = gw.send(message("water rising", to=PHONE))
    (req,) = endpoint.requests
    assert "authorization" not in req.headers
    assert req.body == {"to": PHONE, "text": "water rising", "segments": 1, "template": "FLOOD_1"}
    assert result.provider_id == "42"


def test_sms_without_phone_number_is_refused_before_sending(endpoint: FakeEndpoint) -> None:
    with SmsGateway(endpoint.url()) as gw, pytest.raises(ChannelError) as err:
        gw.send(message(to=None))
    assert err.value.retryable is False
    assert endpoint.requests == []


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        *[(500, True), (502, True), (503, True), (408, True), (429, True)],
        *[(400, False), (401, False), (403, False), (404, False), (422, False)],
    ],
)
def test_http_status_decides_retryable(
    endpoint: FakeEndpoint, status: int, retryable: bool
) -> None:
    endpoint.fail_next(1, status=status)
    with SmsGateway(endpoint.url()) as gw, pytest.raises(ChannelError) as err:
        gw.send(message(to=PHONE))
    assert err.value.retryable is retryable
    assert f"HTTP {status}" in str(err.value)


def test_error_message_keeps_out_phone_number_and_text(endpoint: FakeEndpoint) -> None:
    # A gateway that echoes what it refused: the error must not carry it into logs.
    endpoint.fail_next(
        1, status=400, body={"error": f"bad number {PHONE} for text: {TEXT}", "echo": TEXT * 3}
    )
    with SmsGateway(endpoint.url()) as gw, pytest.raises(ChannelError) as err:
        gw.send(message(to=PHONE))
    text = str(err.value)
    assert err.value.retryable is False
    assert "400" in text and "bad number" in text
    assert PHONE not in text and PHONE[-8:] not in text
    assert not any(TEXT[i : i + 4] in text for i in range(len(TEXT) - 3))
    assert len(text) < 300  # at most 200 characters of the body


def test_redact_finds_partial_echoes_and_other_numbers() -> None:
    body = f"rejected '{TEXT[5:20]}' to {PHONE}; also 13800001111"
    out = redact(body, [PHONE, TEXT])
    assert TEXT[5:20] not in out and PHONE not in out and "13800001111" not in out
    assert out.startswith("rejected '[redacted]'")


def test_timeout_is_retryable_and_a_retry_is_deduplicated() -> None:
    with FakeEndpoint(dedupe=True) as ep:
        ep.delay_next(1, 5.0)
        with SmsGateway(ep.url(), timeout_s=0.5) as gw:
            with pytest.raises(ChannelError) as err:
                gw.send(message(to=PHONE))
            assert err.value.retryable is True
            assert "timed out" in str(err.value)
            gw.send(message(to=PHONE))  # the outbox retries with the same key
        assert list(ep.delivered) == [KEY]
        assert ep.duplicates == 1


def test_connection_refused_is_retryable() -> None:
    # A bound socket that does not listen: connecting is refused, and nobody takes the port.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with SmsGateway(f"http://127.0.0.1:{port}/sms") as gw, pytest.raises(ChannelError) as err:
            gw.send(message(to=PHONE))
    assert err.value.retryable is True
    assert PHONE not in str(err.value)


def test_channel_error_survives_pickling() -> None:
    err = pickle.loads(pickle.dumps(ChannelError("sms: HTTP 503", retryable=True)))
    assert isinstance(err, ChannelError) and err.retryable is True and str(err) == "sms: HTTP 503"


# --- WeCom robot -------------------------------------------------------------------------------


def test_wecom_text_and_markdown_payloads(endpoint: FakeEndpoint) -> None:
    with WeComRobot(endpoint.url("/cgi-bin/webhook/send?key=abc")) as robot:
        robot.send(message(channel="wecom"))
    with WeComRobot(endpoint.url("/cgi-bin/webhook/send?key=abc"), markdown=True) as robot:
        robot.send(message("**转移**", channel="wecom"))
    text_req, md_req = endpoint.requests
    assert text_req.body == {"msgtype": "text", "text": {"content": TEXT}}
    assert md_req.body == {"msgtype": "markdown", "markdown": {"content": "**转移**"}}
    assert text_req.query == {"key": "abc"}
    assert text_req.headers["idempotency-key"] == KEY


@pytest.mark.parametrize(("errcode", "retryable"), [(45009, True), (-1, True), (93000, False)])
def test_wecom_errcode_decides_retryable(
    endpoint: FakeEndpoint, errcode: int, retryable: bool
) -> None:
    endpoint.reply_json({"errcode": errcode, "errmsg": "refused"})
    with WeComRobot(endpoint.url()) as robot, pytest.raises(ChannelError) as err:
        robot.send(message(channel="wecom"))
    assert err.value.retryable is retryable
    assert str(errcode) in str(err.value)
    assert endpoint.delivered == {}


def test_wecom_answer_without_errcode_is_an_error(endpoint: FakeEndpoint) -> None:
    endpoint.reply_json({"status": "ok"})
    with WeComRobot(endpoint.url()) as robot, pytest.raises(ChannelError) as err:
        robot.send(message(channel="wecom"))
    assert err.value.retryable is False


def test_wecom_splits_a_long_chinese_text_on_lines(endpoint: FakeEndpoint) -> None:
    lines = [f"第{i}户：请沿东路转移到村小学安置点，带好证件和药品。" for i in range(120)]
    text = "\n".join(lines)
    assert len(text.encode("utf-8")) > 3 * 2048
    with WeComRobot(endpoint.url()) as robot:
        result = robot.send(message(text, channel="wecom"))
    parts = [r.body["text"]["content"] for r in endpoint.requests]
    assert len(parts) >= 4
    assert all(len(p.encode("utf-8")) <= 2048 for p in parts)
    assert "\n".join(parts) == text
    assert [line for p in parts for line in p.split("\n")] == lines  # no line cut in two
    # Greedy: each post but the last is full, the next line would not have fitted.
    next_lines = [p.split("\n")[0] for p in parts[1:]]
    assert all(
        len(p.encode("utf-8")) + 1 + len(n.encode("utf-8")) > 2048
        for p, n in zip(parts, next_lines, strict=False)
    )
    assert [r.key for r in endpoint.requests] == [f"{KEY}#{i}" for i in range(1, len(parts) + 1)]
    assert result.detail == f"{len(parts)} post(s)"


@pytest.mark.parametrize(("line", "posts"), [("汛" * 341, 1), ("汛" * 341 + "a", 2)])
def test_wecom_split_counts_the_newline_between_lines(
    endpoint: FakeEndpoint, line: str, posts: int
) -> None:
    # Two lines of 1023 bytes make 2047 with the newline: one post. Of 1024, 2049: two.
    with WeComRobot(endpoint.url()) as robot:
        robot.send(message(f"{line}\n{line}", channel="wecom"))
    assert len(endpoint.requests) == posts


def test_wecom_markdown_limit_is_4096_and_an_overlong_line_is_cut(
    endpoint: FakeEndpoint,
) -> None:
    line = "汛" * 2000  # 6000 bytes on one line
    with WeComRobot(endpoint.url(), markdown=True) as robot:
        robot.send(message(line, channel="wecom"))
    parts = [r.body["markdown"]["content"] for r in endpoint.requests]
    assert [len(p.encode("utf-8")) for p in parts] == [4095, 1905]  # 1365 + 635 characters
    assert "".join(parts) == line


# --- DingTalk robot ----------------------------------------------------------------------------


def test_dingtalk_signature_for_a_fixed_clock(endpoint: FakeEndpoint) -> None:
    secret = "SEC0123456789abcdef"
    robot = DingTalkRobot(
        endpoint.url("/robot/send?access_token=tok"), secret=secret, clock=lambda: 1_700_000_000.25
    )
    with robot:
        robot.send(message(channel="dingtalk"))
    # Computed here, as DingTalk's documentation does it, not with the code under test.
    timestamp = "1700000000250"
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256
    ).digest()
    expected = urllib.parse.quote_plus(base64.b64encode(digest))
    assert "%2B" in expected  # this secret's sign needs URL-encoding: the test checks that too
    (req,) = endpoint.requests
    assert req.raw_query == f"access_token=tok&timestamp={timestamp}&sign={expected}"
    assert req.query["sign"] == base64.b64encode(digest).decode()
    assert req.body == {"msgtype": "text", "text": {"content": TEXT}}


def test_dingtalk_without_secret_and_with_markdown(endpoint: FakeEndpoint) -> None:
    with DingTalkRobot(endpoint.url("/robot/send?access_token=tok"), markdown=True) as robot:
        robot.send(message("### 转移\n立即转移", subject="三清镇汛情", channel="dingtalk"))
    (req,) = endpoint.requests
    assert req.query == {"access_token": "tok"}
    assert req.body == {
        "msgtype": "markdown",
        "markdown": {"title": "三清镇汛情", "text": "### 转移\n立即转移"},
    }


@pytest.mark.parametrize(("errcode", "retryable"), [(130101, True), (310000, False)])
def test_dingtalk_errcode_decides_retryable(
    endpoint: FakeEndpoint, errcode: int, retryable: bool
) -> None:
    endpoint.reply_json({"errcode": errcode, "errmsg": "refused"})
    with DingTalkRobot(endpoint.url()) as robot, pytest.raises(ChannelError) as err:
        robot.send(message(channel="dingtalk"))
    assert err.value.retryable is retryable


# --- county receiver ---------------------------------------------------------------------------


def test_county_payload_and_headers(endpoint: FakeEndpoint) -> None:
    payload = {"kind": "follow_up", "seq": 2, "relocated": 37, "villages": ["上游组"]}
    with CountyReceiver(endpoint.url("/reports"), key="county-key") as county:
        result = county.send(
            message("续报正文", subject="三清镇第2次续报", channel="county", payload=payload)
        )
    (req,) = endpoint.requests
    assert req.body == {
        "kind": "follow_up",
        "seq": 2,
        "title": "三清镇第2次续报",
        "text": "续报正文",
        "payload": payload,
    }
    assert req.headers["idempotency-key"] == KEY
    assert req.headers["authorization"] == "Bearer county-key"
    assert result.provider_id == "fake-1"


@pytest.mark.parametrize(
    "payload", [None, {}, {"seq": 1}, {"kind": "initial"}, {"kind": "weekly", "seq": 1}]
)
def test_county_refuses_a_report_without_kind_and_seq(
    endpoint: FakeEndpoint, payload: dict[str, Any] | None
) -> None:
    with CountyReceiver(endpoint.url()) as county, pytest.raises(ChannelError) as err:
        county.send(message(channel="county", payload=payload))
    assert err.value.retryable is False
    assert endpoint.requests == []


# --- rate limiter ------------------------------------------------------------------------------


def test_rate_limiter_spaces_requests() -> None:
    fc = FakeClock()
    limiter = RateLimiter(2, clock=fc.clock, sleep=fc.sleep)
    for _ in range(3):
        limiter.acquire()
    assert fc.sleeps == [0.5, 0.5]
    fc.now += 10  # idle: the bucket fills up to one token only (burst 1)
    limiter.acquire()
    limiter.acquire()
    assert fc.sleeps == [0.5, 0.5, 0.5]


def test_rate_limiter_burst_and_unlimited() -> None:
    fc = FakeClock()
    bursty = RateLimiter(1, burst=3, clock=fc.clock, sleep=fc.sleep)
    for _ in range(4):
        bursty.acquire()
    assert fc.sleeps == [1.0]
    unlimited = RateLimiter(0, clock=fc.clock, sleep=fc.sleep)
    for _ in range(100):
        unlimited.acquire()
    assert fc.sleeps == [1.0]


def test_rate_limiter_is_thread_safe() -> None:
    fc = FakeClock(frozen=True)  # every thread asks at the same instant
    limiter = RateLimiter(4, clock=fc.clock, sleep=fc.sleep)
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        w = limiter.acquire()
        with lock:
            waits.append(w)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Each thread got its own slot: no two share one, none is skipped.
    assert sorted(waits) == [i / 4 for i in range(8)]


def test_senders_wait_for_the_limiter_before_each_request(endpoint: FakeEndpoint) -> None:
    fc = FakeClock()
    with WeComRobot(endpoint.url(), rate_per_s=0.5) as robot:
        assert robot.limiter.per_second == 0.5
        robot.limiter = RateLimiter(0.5, clock=fc.clock, sleep=fc.sleep)
        robot.send(message("短消息", channel="wecom"))
        robot.send(message("\n".join(["汛" * 600] * 3), channel="wecom"))  # three posts
    assert len(endpoint.requests) == 4
    assert fc.sleeps == [2.0, 2.0, 2.0]


# --- loudspeaker -------------------------------------------------------------------------------

FAKE_ESPEAK = """#!/bin/sh
# Stands in for espeak-ng: logs its arguments and writes the file given after -w.
for a in "$@"; do printf '%s\\n' "$a" >> "$(dirname "$0")/espeak-args.txt"; done
while [ $# -gt 0 ]; do
  case "$1" in -w) out="$2"; shift 2;; *) shift;; esac
done
printf 'RIFF fake wave' > "$out"
"""

FAILING_ESPEAK = """#!/bin/sh
echo "no voice cmn" >&2
exit 3
"""


def executable(path: Path, script: str) -> str:
    path.write_text(script, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_loudspeaker_writes_script_and_audio(tmp_path: Path) -> None:
    espeak = executable(tmp_path / "espeak-ng", FAKE_ESPEAK)
    out = tmp_path / "broadcast"
    speaker = Loudspeaker(out, espeak=espeak)
    result = speaker.send(message(channel="loudspeaker", key="act-1:loudspeaker:warn:v01"))
    stem = Path(str(result.provider_id)).stem
    assert result.provider_id == str(out / f"{stem}.wav")
    assert (out / f"{stem}.wav").read_bytes() == b"RIFF fake wave"
    assert (out / f"{stem}.txt").read_text(encoding="utf-8") == f"{TEXT}\n\n{TEXT}\n"
    args = (tmp_path / "espeak-args.txt").read_text(encoding="utf-8").split("\n")
    assert args[:6] == ["-v", "cmn", "-s", "150", "-w", args[5]]
    assert f"{TEXT}\n\n{TEXT}" in "\n".join(args[6:])  # the repeated script is spoken
    assert sorted(p.name for p in out.iterdir()) == [f"{stem}.txt", f"{stem}.wav"]  # no temp files


def test_loudspeaker_key_becomes_a_safe_file_name(tmp_path: Path) -> None:
    speaker = Loudspeaker(tmp_path / "out", espeak=None, repeat=3)
    first = speaker.send(message("撤离", key="act/1:../村", channel="loudspeaker"))
    again = speaker.send(message("撤离", key="act/1:../村", channel="loudspeaker"))
    other = speaker.send(message("撤离", key="act_1_.._村", channel="loudspeaker"))
    path = Path(str(first.provider_id))
    assert path.parent == tmp_path / "out" and path.suffix == ".txt"
    assert "/" not in path.name and not path.name.startswith(".")
    assert path.read_text(encoding="utf-8") == "撤离\n\n撤离\n\n撤离\n"
    assert again.provider_id == first.provider_id  # the same message, the same file
    assert other.provider_id != first.provider_id  # keys that clean up alike stay apart


def test_loudspeaker_with_whatever_espeak_there_is(tmp_path: Path) -> None:
    from sanqing.delivery.channels.loudspeaker import ESPEAK

    espeak = ESPEAK or executable(tmp_path / "espeak-ng", FAKE_ESPEAK)
    result = Loudspeaker(tmp_path / "out", espeak=espeak).send(message(channel="loudspeaker"))
    wav = Path(str(result.provider_id))
    assert wav.suffix == ".wav" and wav.stat().st_size > 0


def test_loudspeaker_espeak_failure_names_the_command(tmp_path: Path) -> None:
    espeak = executable(tmp_path / "espeak-ng", FAILING_ESPEAK)
    speaker = Loudspeaker(tmp_path / "out", espeak=espeak)
    with pytest.raises(ChannelError) as err:
        speaker.send(message(channel="loudspeaker", key="k1"))
    assert err.value.retryable is False
    assert f"{espeak} -v cmn -s 150 -w" in str(err.value)
    assert "exit status 3" in str(err.value) and "no voice cmn" in str(err.value)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["k1.txt"]


def test_loudspeaker_missing_espeak_is_not_retryable(tmp_path: Path) -> None:
    speaker = Loudspeaker(tmp_path / "out", espeak=str(tmp_path / "no-such-espeak"))
    with pytest.raises(ChannelError, match="no-such-espeak") as err:
        speaker.send(message(channel="loudspeaker"))
    assert err.value.retryable is False


# --- all of them -------------------------------------------------------------------------------


def test_every_sender_fits_the_protocol(tmp_path: Path) -> None:
    senders: list[Sender] = [
        SmsGateway("http://127.0.0.1:9/"),
        WeComRobot("http://127.0.0.1:9/"),
        DingTalkRobot("http://127.0.0.1:9/"),
        CountyReceiver("http://127.0.0.1:9/"),
        Loudspeaker(tmp_path, espeak=None),
    ]
    try:
        assert {s.name: s.idempotent for s in senders} == {
            "sms": True,
            "wecom": False,
            "dingtalk": False,
            "county": True,
            "loudspeaker": True,
        }
    finally:
        for s in senders:
            s.close()


def test_robots_mention_the_cadre_a_task_is_for_and_nobody_else(endpoint: FakeEndpoint) -> None:
    cadre = Message(
        key="k-task", channel="task_list", to="13912345678", subject="任务单", text=TEXT
    )
    group = Message(key="k-group", channel="wechat", to="鸡心村群", subject="群消息", text=TEXT)
    with DingTalkRobot(endpoint.url("/robot/send?access_token=t")) as robot:
        robot.send(cadre)
        robot.send(group)
    with WeComRobot(endpoint.url("/cgi-bin/webhook/send?key=abc")) as robot:
        robot.send(cadre)
    ding_task, ding_group, wecom_task = (r.body for r in endpoint.requests)
    assert ding_task["at"] == {"atMobiles": ["13912345678"], "isAtAll": False}
    assert "at" not in ding_group  # a group message: no phone to ring, and never @all
    assert wecom_task["text"]["mentioned_mobile_list"] == ["13912345678"]
