"""The ack/receipt server under load and abuse: a burst of receipts, slow clients, bad bytes.

A real AckServer on 127.0.0.1, raw sockets and httpx clients in threads. Every
request gets an HTTP answer (never a dropped connection), a client that stalls is
cut off after the socket timeout without holding up the others, and every receipt
is recorded once.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlmodel import col, select

from sanqing.db import session_scope
from sanqing.delivery import deliver_outbox
from sanqing.delivery.ack_server import LISTEN_BACKLOG, AckServer
from sanqing.models import Notice, TimelineEvent, utcnow
from sanqing.plans import Level
from sanqing.settings import get_settings
from tests.unit.test_delivery import FakeSender, put_notices
from tests.unit.test_response import activate

pytestmark = pytest.mark.integration

TOKEN = "gateway-token"
WORKERS = 4
BURST = 200


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SANQING_ACK_URL", "http://127.0.0.1/ack")  # the links' base (unused)
    monkeypatch.setenv("SANQING_ACK_SECRET", "s3cret-for-tests")
    monkeypatch.setenv("SANQING_RECEIPT_TOKEN", TOKEN)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def server(settings: None) -> Iterator[AckServer]:
    server = AckServer("127.0.0.1", 0, workers=WORKERS, timeout_s=3)
    server.start_in_background()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def sent_sms(n: int) -> list[str]:
    """``n`` SMS the gateway accepted (status sent), waiting for their receipts."""
    act = activate(Level.II)
    ids = put_notices(act, n, at=utcnow())
    deliver_outbox({"sms": FakeSender("sms")}, activation_id=act)
    return ids


def receipt_request(port: int, key: str, *, auth: bytes = b"Bearer " + TOKEN.encode()) -> bytes:
    body = f'{{"key": "{key}", "status": "delivered"}}'.encode()
    return (
        b"POST /receipt HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: %s\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (port, auth, len(body), body)
    )


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def statuses(ids: list[str]) -> dict[str, str]:
    with session_scope() as s:
        return {n.id: n.status for n in s.exec(select(Notice).where(col(Notice.id).in_(ids)))}


def test_a_burst_of_receipts_is_answered_and_recorded_once_each(
    db_url: str, server: AckServer
) -> None:
    ids = sent_sms(BURST)
    url = f"http://127.0.0.1:{server.server_address[1]}/receipt"
    start = threading.Barrier(BURST + 1)
    answers: dict[str, int | str] = {}
    busiest = [0]
    sampling = threading.Event()

    # one client for all threads (making 200 clients costs more than the burst), and as
    # many connections at once as there are threads
    http = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=BURST))

    def send(key: str) -> None:
        start.wait()
        try:
            r = http.post(
                url,
                json={"key": key, "status": "delivered"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            answers[key] = r.status_code
        except httpx.HTTPError as exc:  # a dropped or refused connection
            answers[key] = type(exc).__name__

    def sample() -> None:  # how many workers handle requests at once
        while not sampling.is_set():
            n = sum(t.name.startswith("ack-server-worker") for t in threading.enumerate())
            busiest[0] = max(busiest[0], n)
            sampling.wait(0.005)

    threads = [threading.Thread(target=send, args=(k,)) for k in ids]
    sampler = threading.Thread(target=sample)
    for t in [*threads, sampler]:
        t.start()
    start.wait()
    for t in threads:
        t.join()
    sampling.set()
    sampler.join()
    http.close()
    assert set(answers.values()) == {200}, sorted(map(str, answers.values()))
    assert set(statuses(ids).values()) == {"delivered"}
    assert 0 < busiest[0] <= WORKERS  # a bounded pool, not a thread per connection
    with session_scope() as s:
        first = {n.id: n.delivered_at for n in s.exec(select(Notice))}
    # the gateway sends them all again: answered, and nothing changes
    for key in ids[:20]:
        r = httpx.post(
            url,
            json={"key": key, "status": "delivered"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert r.status_code == 200
    with session_scope() as s:
        assert {n.id: n.delivered_at for n in s.exec(select(Notice))} == first


def test_the_listen_backlog_holds_a_burst_until_workers_are_free(
    db_url: str, settings: None
) -> None:
    ids = sent_sms(BURST)
    server = AckServer("127.0.0.1", 0, workers=WORKERS, timeout_s=10)
    assert server.request_queue_size >= LISTEN_BACKLOG >= BURST
    port = server.server_address[1]
    socks: list[socket.socket] = []
    try:
        # the whole burst connects while the server accepts nothing yet (the kernel holds
        # them); with the standard backlog of 5 the seventh connection would hang here
        for _ in ids:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        for sock, key in zip(socks, ids, strict=True):
            sock.sendall(receipt_request(port, key))
        server.start_in_background()
        for sock in socks:
            sock.settimeout(60)
        answers = [read_all(sock).split(b"\r\n", 1)[0] for sock in socks]
    finally:
        for sock in socks:
            sock.close()
        server.shutdown()
        server.server_close()
    assert set(answers) == {b"HTTP/1.0 200 OK"}
    assert set(statuses(ids).values()) == {"delivered"}


def test_a_slow_client_holds_up_nobody_and_is_cut_off(db_url: str, server: AckServer) -> None:
    (key,) = sent_sms(1)
    port = server.server_address[1]
    loris = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        loris.sendall(b"GET /ack?n=abc&e=1")  # half a request line, then nothing
        r = httpx.post(
            f"http://127.0.0.1:{port}/receipt",
            json={"key": key, "status": "delivered"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert r.status_code == 200
        loris.setblocking(False)
        with pytest.raises(BlockingIOError):  # it is still connected, waiting
            loris.recv(1)
        loris.setblocking(True)
        loris.settimeout(60)  # generous: the server's socket timeout is 3 s
        assert read_all(loris) == b""  # the server closed it
    finally:
        loris.close()
    assert statuses([key]) == {key: "delivered"}


def test_non_ascii_tokens_get_a_400_not_a_dropped_connection(
    db_url: str, server: AckServer
) -> None:
    (key,) = sent_sms(1)
    port = server.server_address[1]
    base = f"http://127.0.0.1:{port}"
    page = httpx.get(f"{base}/ack", params={"n": "x", "e": "1999999999", "t": "令牌"})
    assert page.status_code == 400 and "链接不完整" in page.text and "值班室" in page.text
    for auth in ("Bearer 令牌".encode(), "Bearer tökén".encode("latin-1")):
        r = httpx.post(
            f"{base}/receipt",
            json={"key": key, "status": "delivered"},
            headers={"Authorization": auth},
        )
        assert r.status_code == 400 and "Authorization" in r.json()["error"]
    # raw bytes in the request line, as a broken client may send them
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall("GET /ack?n=x&e=1&t=令牌 HTTP/1.0\r\n\r\n".encode())
        assert read_all(sock).startswith(b"HTTP/1.0 400")
    assert statuses([key]) == {key: "sent"}  # none of them was taken


@pytest.mark.parametrize(
    ("length", "status"),
    [("-1", 400), ("lots", 400), (str(10**9), 413), ("100", 408)],
)
def test_a_bad_content_length_gets_an_answer(
    db_url: str, server: AckServer, length: str, status: int
) -> None:
    port = server.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"POST /receipt HTTP/1.0\r\nAuthorization: Bearer %s\r\nContent-Length: %s\r\n\r\n{}"
            % (TOKEN.encode(), length.encode())
        )
        assert read_all(sock).startswith(b"HTTP/1.0 %d" % status)


def test_many_taps_of_one_link_at_once_confirm_it_once(db_url: str, server: AckServer) -> None:
    from sanqing.delivery import links
    from tests.integration.test_ack_link import grid_member
    from tests.unit.test_delivery import sent_task_list

    act = activate(Level.II)
    nid = sent_task_list(act, grid_member(), utcnow() - timedelta(minutes=1))
    with session_scope() as s:
        n = s.get(Notice, nid)
        assert n is not None
        link = links.ack_link(n)
    assert link is not None
    query = link.split("?", 1)[1]
    url = f"http://127.0.0.1:{server.server_address[1]}/ack?{query}"
    start = threading.Barrier(20)
    pages: list[str] = []

    def tap() -> None:
        start.wait()
        pages.append(httpx.get(url, timeout=60).text)

    threads = [threading.Thread(target=tap) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum("此前已确认" in p for p in pages) == 19
    assert sum("已确认收到，谢谢" in p for p in pages) == 1
    with session_scope() as s:
        assert len([e for e in s.exec(select(TimelineEvent)) if e.action == "已叫应"]) == 1
