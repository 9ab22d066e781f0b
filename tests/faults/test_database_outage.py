"""PostgreSQL stops under a running `insight serve`, and starts again.

While it is down, on one keep-alive connection: classify keeps answering 200; customer calls
answer 503 with Retry-After, quickly, and the server never closes the connection; /readyz says
the app database is down. Once PostgreSQL accepts connections again, customer calls answer 200
within seconds. The log holds one line for the outage and one for the recovery: no traceback
per request, and nothing of the stored record.
"""

from __future__ import annotations

import threading
import time

from app.db.migrations import upgrade
from tests.conftest import TEXT_MODELS, admin_headers
from tests.faults.conftest import Exchange, OneConnection, PrivateCluster
from tests.serving import running_service, service_env

SECRET = "13912345678-张三-住址"  # in the stored record: must never reach the log
CUSTOMER = "/v1/customers/C-outage"
CLASSIFY = "/v1/demands/classify"
PHASE_S = 30  # deadline of each wait in the test
CONNECT_S = STATEMENT_S = 2  # the service's database timeouts in this test
WAIT_BOUND_S = CONNECT_S + STATEMENT_S + 5  # no 503 waits longer: its timeouts, plus slack
BACK_WITHIN_S = 10  # the issue asks for 2 s; this is the test's deadline, the time is printed


class ClientLoop:
    """Classify, read the customer, and now and then /readyz, on one connection, until told
    to stop; every exchange is kept, and the first failure ends the loop."""

    def __init__(self, connection: OneConnection):
        self.connection = connection
        self.exchanges: list[Exchange] = []
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(PHASE_S)
        assert not self._thread.is_alive(), "the client loop hung"

    def wait_for(self, found, what: str) -> Exchange:
        """The first exchange ``found`` accepts; fails past the deadline or on a failure."""
        deadline = time.monotonic() + PHASE_S
        seen = 0
        while True:
            for exchange in self.exchanges[seen:]:
                if found(exchange):
                    return exchange
                seen += 1
            assert self.failure is None, f"the client failed: {self.failure!r}"
            assert time.monotonic() < deadline, f"never saw {what}"
            time.sleep(0.02)

    def _run(self) -> None:
        rounds = 0
        try:
            while not self._stop.is_set():
                self.exchanges.append(
                    self.connection.call("POST", CLASSIFY, {"text": "宽带断网了"})
                )
                self.exchanges.append(self.connection.call("GET", CUSTOMER))
                if rounds % 5 == 0:
                    self.exchanges.append(self.connection.call("GET", "/readyz"))
                rounds += 1
        except BaseException as error:  # noqa: BLE001 - kept for the test to report
            self.failure = error


def test_postgres_outage_answers_503_on_the_same_connection_then_recovers(
    private_postgres: PrivateCluster, trained_store, tmp_path
):
    url = private_postgres.url
    upgrade(url)
    headers = admin_headers(url)  # before the service starts: it reads the keys at start
    env = service_env(
        trained_store,
        TEXT_MODELS,
        database_url=url,
        database_connect_timeout_seconds=CONNECT_S,
        database_statement_timeout_seconds=STATEMENT_S,
    )
    with running_service(env, tmp_path / "server.log") as service:
        connection = OneConnection(int(env["INSIGHT_PORT"]), headers)
        stored = connection.call("PUT", CUSTOMER, {"features": {"age": 30, "note": SECRET}})
        assert stored.status == 200, stored.body
        loop = ClientLoop(connection)
        loop.start()
        try:
            loop.wait_for(lambda e: e.path == CUSTOMER and e.status == 200, "a customer read")
            private_postgres.stop("immediate")
            stopped_at = time.monotonic()
            loop.wait_for(lambda e: _is_down(e), "/readyz saying app_database down")
            down = loop.wait_for(
                lambda e: e.path == CUSTOMER and e.sent_at > stopped_at and e.status == 503,
                "a 503",
            )
            loop.wait_for(  # a while down: many requests meet the outage
                lambda e: e.sent_at > down.sent_at + 2 and e.path == CUSTOMER, "2 s of outage"
            )
            restarting_at = time.monotonic()
            private_postgres.start()  # back once it accepts connections
            assert private_postgres.accepts_connections()
            accepting_at = time.monotonic()
            back = loop.wait_for(
                lambda e: e.path == CUSTOMER and e.sent_at > accepting_at and e.status == 200,
                "a customer read after the restart",
            )
            loop.wait_for(lambda e: e.sent_at > back.sent_at and _is_up(e), "/readyz back")
        finally:
            loop.stop()
            connection.close()
        log = service.output()
    assert loop.failure is None, f"the client failed: {loop.failure!r}"
    back_after_s = back.sent_at + back.seconds - accepting_at
    # Answered before the restart began: once it has, a read may be back before accepting_at.
    outage = [
        e
        for e in loop.exchanges
        if stopped_at < e.sent_at and e.sent_at + e.seconds < restarting_at
    ]
    reads = [e for e in outage if e.path == CUSTOMER]
    print(
        f"\ncustomer reads back {back_after_s:.2f} s after PostgreSQL accepted connections; "
        f"during the outage {len(outage)} exchanges on one connection, slowest 503 "
        f"{max(e.seconds for e in reads):.3f} s"
    )
    assert back_after_s < BACK_WITHIN_S
    assert down.headers["content-type"].startswith("application/problem+json")
    assert all(e.status == 200 for e in loop.exchanges if e.path == CLASSIFY)
    assert reads and all(e.status == 503 and int(e.headers["retry-after"]) >= 1 for e in reads)
    assert max(e.seconds for e in reads) < WAIT_BOUND_S
    assert log.count("Traceback") <= 1, log[-5000:]
    assert "unexpected" not in log, log[-5000:]
    assert log.count("app_database down") == 1, log[-5000:]
    assert log.count("app_database back") == 1, log[-5000:]
    assert SECRET not in log


def _is_down(exchange: Exchange) -> bool:
    if exchange.path != "/readyz":
        return False
    body = exchange.json()
    return exchange.status == 200 and body["components"]["app_database"]["state"] == "down"


def _is_up(exchange: Exchange) -> bool:
    if exchange.path != "/readyz":
        return False
    return exchange.json()["components"]["app_database"]["state"] == "ready"
