"""Two servers of the same build, one setting apart (or one server, two endpoints), measured in
one run: wrk drives each in turn, round by round (A, B, B, A, ...), so that drift on a shared
machine hits both alike. ``bench.capture``, ``bench.auth`` and ``bench.open_inference`` are
built on it."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.core.config import Settings
from app.db.migrations import upgrade
from bench.load import LoadResult, run_wrk, server_env, wait_until_answering

PATH = "/v1/demands/classify"
TEXT_MODELS = ["demand-classifier", "spam-filter"]
SERVE = [sys.executable, "-m", "app.cli", "serve"]


@contextmanager
def fresh_database() -> Iterator[tuple[str, dict[str, str]]]:
    """A migrated SQLite app database in a temporary folder, and the environment of a
    one-worker server of the registry's text models on it, capture on (the default, whatever
    this shell says)."""
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{Path(folder) / 'insight.db'}"
        upgrade(database_url)
        yield (
            database_url,
            server_env(Settings().mlflow_store().tracking_uri)
            | {
                "INSIGHT_DATABASE_URL": database_url,
                "INSIGHT_SERVED_MODELS": json.dumps(TEXT_MODELS),
                "INSIGHT_WORKERS": "1",
                "INSIGHT_CAPTURE_ENABLED": "true",
            },
        )


def announce(options: argparse.Namespace, what: str, sides: str) -> None:
    print(
        f"{what}; {options.rounds} rounds of {options.seconds:.0f} s per {sides} and connection "
        f"count; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start"
    )


@dataclass(frozen=True)
class Paired:
    """The two sides: name -> port, name -> process id once started, and name -> the path
    each is driven on (default: /v1/demands/classify)."""

    ports: dict[str, int]
    pids: dict[str, int]
    paths: dict[str, str] | None = None

    def url(self, name: str) -> str:
        path = (self.paths or {}).get(name, PATH)
        return f"http://127.0.0.1:{self.ports[name]}{path}"


def options(description: str, default_out: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk duration per round")
    parser.add_argument("--rounds", type=int, default=8, help="rounds per server")
    parser.add_argument(
        "--connections", type=int, nargs="+", default=[1, 8], help="connection counts to measure"
    )
    parser.add_argument("--out", type=Path, default=default_out)
    return parser.parse_args()


def measure(
    servers: Paired,
    bodies: list[str] | dict[str, list[str]],
    options: argparse.Namespace,
    connections: int,
    api_key: str,
) -> tuple[dict[str, list[LoadResult]], dict[str, list[float]]]:
    """Each side's wrk figures per round, and its server's CPU time per request in
    microseconds (the capture writer's work after the round included): the figure a busy
    machine disturbs least. ``bodies``: the same for both sides, or name -> its own."""
    names = list(servers.ports)
    sent = bodies if isinstance(bodies, dict) else {name: bodies for name in names}
    results: dict[str, list[LoadResult]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        wait_until_answering(servers.url(name), sent[name][0], api_key=api_key)
        run_wrk(servers.url(name), sent[name], connections=connections, seconds=3, api_key=api_key)
    width = max(map(len, names))
    for round_number in range(options.rounds):
        for name in names if round_number % 2 == 0 else reversed(names):
            wait_until_written(servers)
            cpu_before = cpu_seconds(servers.pids[name])
            result = run_wrk(
                servers.url(name),
                sent[name],
                connections=connections,
                seconds=options.seconds,
                api_key=api_key,
            )
            wait_until_written(servers)
            requests = max(result.requests_per_s * options.seconds, 1.0)
            cpu[name].append((cpu_seconds(servers.pids[name]) - cpu_before) / requests * 1e6)
            results[name].append(result)
            print(
                f"round {round_number + 1} {name:>{width}}: {result.requests_per_s:7.0f} req/s, "
                f"p50 {result.p50_ms:6.2f} ms, p99 {result.p99_ms:6.2f} ms, "
                f"server CPU {cpu[name][-1]:5.0f} µs/request"
                + (f"   ! {result.errors} failed requests" if result.errors else ""),
                flush=True,
            )
    return results, cpu


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def capture_metrics(port: int) -> dict[str, float]:
    """The capture counters of one server (/metrics answers loopback callers without a key)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    counters = {
        name: float(value)
        for name, value in re.findall(r"^insight_capture_(\w+?)(?:_total)? (\S+)$", text, re.M)
    }
    return {name: counters.get(name, 0.0) for name in ("written", "pending", "dropped", "rejected")}


def wait_until_written(servers: Paired, timeout_s: float = 60) -> None:
    """Wait until no server has captured requests waiting for the database."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(
        capture_metrics(port)["pending"] > 0 for port in set(servers.ports.values())
    ):
        time.sleep(0.2)


def summary(results: list[LoadResult], cpu_us: list[float]) -> dict[str, float]:
    return {
        "cpu_us_per_request": statistics.median(cpu_us),
        "requests_per_s": statistics.median(r.requests_per_s for r in results),
        "p50_ms": statistics.median(r.p50_ms for r in results),
        "p99_ms": statistics.median(r.p99_ms for r in results),
        "errors": sum(r.errors for r in results),
    }


def summaries(
    results: dict[str, list[LoadResult]], cpu: dict[str, list[float]]
) -> dict[str, dict[str, float]]:
    return {name: summary(rounds, cpu[name]) for name, rounds in results.items()}


def print_medians(medians: dict[str, dict[str, float]]) -> None:
    width = max(map(len, medians))
    print(
        f"\n{'':>{width}} | {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU µs/req':>10} "
        "(medians over rounds)"
    )
    for name, median in medians.items():
        print(
            f"{name:>{width}} | {median['requests_per_s']:>7.0f} {median['p50_ms']:>7.2f} "
            f"{median['p99_ms']:>7.2f} {median['cpu_us_per_request']:>10.0f}"
            + (f"   ! {median['errors']:.0f} failed requests" if median["errors"] else "")
        )


def change(before: float, after: float) -> float:
    """``after`` against ``before``, in percent."""
    return (after / before - 1) * 100 if before else float("nan")


def round_figures(
    results: dict[str, list[LoadResult]], cpu: dict[str, list[float]], medians: dict
) -> dict:
    """What a run saves per connection count: every round, the CPU per request, the medians."""
    return {
        "rounds": {name: [vars(r) for r in rounds] for name, rounds in results.items()},
        "cpu_us_per_request": cpu,
        "medians": medians,
    }


def fail_on_errors(figures: dict[int, dict]) -> None:
    """A non-zero exit when wrk saw any failed request: socket errors or non-2xx answers
    (a refused key is a 401)."""
    failed = {
        f"{name} at {connections} connection(s)": summary["errors"]
        for connections, figure in figures.items()
        for name, summary in figure["medians"].items()
        if summary["errors"]
    }
    if failed:
        raise SystemExit(
            "failed requests: "
            + ", ".join(f"{where}: {count:.0f}" for where, count in failed.items())
        )
