"""SIGTERM under heavy load: every request in flight is answered and captured, then the server
exits within its grace period. A real `insight serve`, two workers, all six models."""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from app.db.migrations import upgrade
from tests.api.test_customers import _features
from tests.capture.conftest import captured_rows
from tests.conftest import CUSTOMER_MODEL_NAMES, TEXT_MODELS, admin_headers
from tests.serving import on_each_worker, running_service, service_env

GRACE_S = 60
HEAVY = 8  # requests of each kind: 100-customer scores and 64-text classifies
READ_WAIT_S = 15


def test_sigterm_answers_every_heavy_request_in_flight_then_exits(
    full_store, customer_world, demand_corpus, tmp_path
):
    url = f"sqlite:///{tmp_path / 'insight.db'}"
    upgrade(url)
    headers = {**admin_headers(url), "Content-Type": "application/json"}
    env = service_env(
        full_store,
        TEXT_MODELS + list(CUSTOMER_MODEL_NAMES),
        workers=2,
        database_url=url,
        shutdown_grace_seconds=GRACE_S,
    )
    calls = _heavy_calls(customer_world, list(demand_corpus["text"]))
    with running_service(env, tmp_path / "server.log") as service:
        on_each_worker(service, lambda client: None, workers=2)  # both ready: no 503s
        port = int(env["INSIGHT_PORT"])
        sent, client_ports = threading.Semaphore(0), []
        with ThreadPoolExecutor(len(calls)) as pool:
            answers = [
                pool.submit(
                    _call, port, path, body, {**headers, "X-Request-ID": rid}, sent, client_ports
                )
                for rid, (path, body, _) in calls.items()
            ]
            _wait_all_sent(sent, len(calls), answers)
            _wait_all_read_by_server(port, client_ports)
            # A worker scoring on its event loop reads what waits behind a batch only once the
            # batch is answered: by the time all requests are read, all are answered.
            assert not all(answer.done() for answer in answers), "no request left in flight"
            service.process.send_signal(signal.SIGTERM)
            results = [answer.result(timeout=GRACE_S + 30) for answer in answers]
        assert service.process.wait(GRACE_S) in (0, -signal.SIGTERM)  # within the grace
        output = service.output()
    for (path, _, size), (status, body) in zip(calls.values(), results):
        assert status == 200, (path, status, body[:300])
        assert len(json.loads(body)["results"]) == size, path
    assert "timeout graceful shutdown exceeded" not in output
    captured = {row.request_id: row.status for row in captured_rows(url)}
    assert all(captured.get(rid) == 200 for rid in calls), output[-3000:]


def _heavy_calls(customer_world, corpus: list[str]) -> dict[str, tuple[str, bytes, int]]:
    """Request id -> (path, body, answers expected), alternating scores and classifies; each
    text is eight of the corpus's in one, so a batch takes long enough to be caught in flight."""
    pieces = (corpus[i % len(corpus)] for i in range(HEAVY * 64 * 8))
    texts = ["，".join(group) for group in zip(*[pieces] * 8)]
    customers = [
        {"customer_id": f"C{row}", "features": _features(customer_world, row)} for row in range(100)
    ]
    score = json.dumps({"customers": customers}).encode()
    calls = {}
    for i in range(HEAVY):
        batch = json.dumps({"texts": texts[i * 64 : (i + 1) * 64]}).encode()
        calls[uuid.uuid4().hex] = ("/v1/customers/score", score, 100)
        calls[uuid.uuid4().hex] = ("/v1/demands/classify", batch, 64)
    return calls


def _call(
    port: int,
    path: str,
    body: bytes,
    headers: dict[str, str],
    sent: threading.Semaphore,
    client_ports: list[int],
) -> tuple[int, bytes]:
    """POST on a connection of its own, whose port goes to ``client_ports``; ``sent`` is
    released once the whole request is out."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=GRACE_S + 20)
    try:
        connection.connect()
        client_ports.append(connection.sock.getsockname()[1])
        connection.request("POST", path, body=body, headers=headers)
        sent.release()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _wait_all_sent(sent: threading.Semaphore, count: int, answers: list[Future]) -> None:
    deadline = time.monotonic() + READ_WAIT_S
    for _ in range(count):
        if not sent.acquire(timeout=max(0.0, deadline - time.monotonic())):
            failed = [answer.exception() for answer in answers if answer.done()]
            raise AssertionError(f"not every request was sent in time: {failed}")


def _wait_all_read_by_server(port: int, client_ports: list[int]) -> None:
    """Until the server has accepted every connection and read every byte sent on it (or
    answered and closed it): a request still in the kernel's queues at SIGTERM was never in
    flight, and uvicorn closes its connection unanswered."""
    deadline, seen = time.monotonic() + READ_WAIT_S, []
    while True:
        backlog, unread = _server_side_queues(port)
        waiting = {client: unread[client] for client in client_ports if unread.get(client)}
        if backlog == 0 and not waiting:
            return
        seen.append((backlog, waiting))
        assert time.monotonic() < deadline, f"the server left requests unread: {seen[-5:]}"
        time.sleep(0.01)


def _server_side_queues(port: int) -> tuple[int, dict[int, int]]:
    """From /proc/net/tcp: the connections waiting to be accepted on ``port``, and for each
    server-side connection (by the client's port) the bytes it holds unread."""
    backlog, unread = 0, {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) != port:
            continue
        queued = int(fields[4].split(":")[1], 16)
        if fields[3] == "0A":  # LISTEN: the accept queue's length
            backlog += queued
        else:
            unread[int(fields[2].split(":")[1], 16)] = queued
    return backlog, unread
