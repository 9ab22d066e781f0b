"""A real `insight serve` under load while its capture worker is killed again and again: every
answered request is captured exactly once, and the log names each dead worker."""

from __future__ import annotations

import os
import signal
import threading
import time

from app.db.migrations import upgrade
from tests.capture.conftest import captured_rows
from tests.conftest import TEXT_MODELS, admin_headers
from tests.faults.processes import capture_worker
from tests.serving import LiveService, running_service, service_env

CLASSIFY = "/v1/demands/classify"
CLIENTS, MAX_REQUESTS_PER_CLIENT = 3, 5000
KILLS, REQUESTS_BETWEEN_KILLS = 4, 80
REQUESTS_AFTER_LAST_KILL = 80


class Traffic:
    """A few clients sending classify requests one after another, each with its own id, until
    told to stop (or a bound is reached)."""

    def __init__(self, service: LiveService, headers: dict[str, str]):
        self.answered: list[str] = []
        self.failed: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._send, args=(service, headers, n)) for n in range(CLIENTS)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(300)
        assert not any(thread.is_alive() for thread in self._threads), "clients still sending"

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def _send(self, service: LiveService, headers: dict[str, str], client_number: int) -> None:
        with service.client(headers) as client:
            for i in range(MAX_REQUESTS_PER_CLIENT):
                if self.stop.is_set():
                    return
                request_id = f"c{client_number}-{i:04d}"
                response = client.post(
                    CLASSIFY, json={"text": "宽带断网三天了"}, headers={"X-Request-ID": request_id}
                )
                with self._lock:
                    (self.answered if response.status_code == 200 else self.failed).append(
                        request_id
                    )


def _kill_workers(service: LiveService, traffic: Traffic) -> list[int]:
    """SIGKILL the capture worker each time the clients have sent some more requests (as soon
    as the writer has started a new one), then let some more requests through and stop them."""
    killed: list[int] = []
    deadline = time.monotonic() + 240
    while len(killed) < KILLS and traffic.running and time.monotonic() < deadline:
        worker = capture_worker(service.process.pid)
        due = len(traffic.answered) >= REQUESTS_BETWEEN_KILLS * (len(killed) + 1)
        if worker is not None and worker not in killed and due:
            os.kill(worker, signal.SIGKILL)
            killed.append(worker)
        time.sleep(0.01)
    last = len(traffic.answered)
    while traffic.running and len(traffic.answered) < last + REQUESTS_AFTER_LAST_KILL:
        assert time.monotonic() < deadline, "the clients stalled"
        time.sleep(0.01)
    traffic.stop.set()
    return killed


def test_killing_the_capture_worker_under_load_stores_each_request_once(trained_store, tmp_path):
    url = f"sqlite:///{tmp_path / 'insight.db'}"
    upgrade(url)
    headers = admin_headers(url)
    # Small, frequent batches: the worker is busy often, so some kills land mid-batch.
    env = service_env(
        trained_store,
        TEXT_MODELS,
        database_url=url,
        capture_flush_interval_seconds=0.05,
        capture_batch_size=20,
        capture_shutdown_timeout_seconds=30,
    )
    with running_service(env, tmp_path / "server.log") as service:
        traffic = Traffic(service, headers)
        traffic.start()
        killed = _kill_workers(service, traffic)
        traffic.join()
    # Stopped by SIGTERM: the service wrote what was pending before it exited.
    assert len(killed) == KILLS, f"only {len(killed)} kills before the traffic ended"
    assert traffic.failed == []
    rows = captured_rows(url)
    assert len(rows) == len(traffic.answered)
    assert sorted(row.request_id for row in rows) == sorted(traffic.answered)
    assert len({row.capture_id for row in rows}) == len(rows)
    log = service.output()
    for pid in killed:
        assert f"the capture worker (pid {pid}) was killed (SIGKILL)" in log
    assert "unavailable" not in log
