"""A minute at saturation: does the service stay correct, keep every capture and hold its memory?

    .venv/bin/python -m bench.soak                   # mixed traffic, 60 s at 64 connections
    .venv/bin/python -m bench.soak --mix classify    # one-text classify only

`insight serve` (two workers, as `make run`) on a fresh SQLite app database holding 1,000
built-in-world customers; wrk sends, in turn, one-text classifies (half the calls), scores of
five customers, profiles of stored customers and PUTs of their records, with an admin key the
run makes. Every answer must be a 2xx; capture must drop nothing (each request answered is a
row once the buffer drains); the server's memory (the resident set of the master and its
workers) must grow under 5% from the end of a warm-up to the end of the run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select

from app.core.config import Settings
from app.db.migrations import upgrade
from app.db.models import CapturedRequest
from bench.keys import bench_key
from bench.load import (
    Call,
    json_records,
    require_wrk,
    run_wrk,
    running_server,
    server_env,
)
from bench.paired import capture_metrics
from training.customers.schema import LABEL_COLUMNS

PORT = 8107
CUSTOMERS = 1000
MIXES = ("mixed", "classify")
TARGET_RSS_GROWTH = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    # Long enough for a steady state: at saturation capture's buffer grows for about 20 s
    # before its urgent writes keep up, and the memory it took is kept by the allocator.
    parser.add_argument("--warmup-seconds", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mix", choices=MIXES, default="mixed")
    parser.add_argument("--out", type=Path, default=None)
    options = parser.parse_args()
    require_wrk()
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{Path(folder) / 'insight.db'}"
        upgrade(database_url)
        customers = _store_customers(database_url, Path(folder))
        figures = _soak(options, database_url, _calls(options.mix, customers))
    _print(figures, options)
    out = options.out or Path(f"bench/results/soak-{options.mix}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    print(f"figures saved to {out}")
    if not figures["passed"]:
        raise SystemExit(1)


def _soak(options: argparse.Namespace, database_url: str, calls: list[Call]) -> dict:
    env = server_env(Settings().mlflow_store().tracking_uri) | {
        "INSIGHT_DATABASE_URL": database_url,
        "INSIGHT_WORKERS": str(options.workers),
        "INSIGHT_PORT": str(PORT),
    }
    url = f"http://127.0.0.1:{PORT}/v1/demands/classify"
    command = [sys.executable, "-m", "app.cli", "serve"]
    with (
        bench_key(database_url, scopes=["admin"]) as api_key,
        running_server(command, env) as server,
    ):
        _wait_until_ready(PORT)  # every model loaded: a classify answers before the rest
        print(
            f"{len(calls)} distinct calls ({options.mix}); {options.workers} workers; "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
        )
        drive = partial(
            run_wrk, url, [], connections=options.connections, api_key=api_key, calls=calls
        )
        warmup = drive(seconds=options.warmup_seconds)
        _wait_until_drained(PORT)
        rows_before, written_before = _captured_rows(database_url), capture_metrics(PORT)["written"]
        with _memory_samples(server.pid) as rss:
            run = drive(seconds=options.seconds)
        drained = _wait_until_drained(PORT)
        captured = capture_metrics(PORT)
        rows = _captured_rows(database_url) - rows_before
        written = captured["written"] - written_before
    growth = rss[-1] / rss[0] - 1
    passed = (
        warmup.errors == 0
        and run.errors == 0
        and captured["dropped"] == 0
        and captured["rejected"] == 0
        and drained
        and rows == written
        and growth < TARGET_RSS_GROWTH
    )
    return {
        "mix": options.mix,
        "connections": options.connections,
        "seconds": options.seconds,
        "workers": options.workers,
        "warmup": vars(warmup),
        "run": vars(run),
        "captured": captured,
        "captured_rows_in_run": rows,
        "captured_written_in_run": written,
        "rss_mb_every_5_s": rss,
        "rss_growth": growth,
        "passed": passed,
    }


def _store_customers(database_url: str, folder: Path) -> list[tuple[str, dict]]:
    """1,000 built-in-world customers, imported into the app database; (id, record) each."""
    from training.customers.world import generate_customers

    frame = generate_customers(CUSTOMERS, seed=314).drop(columns=list(LABEL_COLUMNS))
    path = folder / "customers.csv"
    frame.to_csv(path, index=False)
    subprocess.run(
        [sys.executable, "-m", "app.cli", "customers", "import", str(path)],
        env={**os.environ, "INSIGHT_DATABASE_URL": database_url},
        check=True,
        capture_output=True,
    )
    return [(record.pop("customer_id"), record) for record in json_records(frame)]


def _calls(mix: str, customers: list[tuple[str, dict]]) -> list[Call]:
    """Per eight calls: four one-text classifies, a score of five customers, two profiles and
    a PUT (``mixed``); or classifies only."""
    from training.text.corpus import generate_demands

    texts = generate_demands(400, seed=99)["text"].tolist()
    classify = [
        ("POST", "/v1/demands/classify", json.dumps({"text": text}, ensure_ascii=False))
        for text in texts
    ]
    if mix == "classify":
        return classify
    calls: list[Call] = []
    for i in range(100):
        group = [customers[(5 * i + k) % len(customers)] for k in range(5)]
        score = {"customers": [{"customer_id": c, "features": r} for c, r in group]}
        customer_id, record = group[0]
        calls += classify[4 * i : 4 * i + 4]
        calls.append(("POST", "/v1/customers/score", json.dumps(score, ensure_ascii=False)))
        calls.append(("GET", f"/v1/customers/{customer_id}/profile", None))
        calls.append(("GET", f"/v1/customers/{group[1][0]}/profile", None))
        put = json.dumps({"features": record}, ensure_ascii=False)
        calls.append(("PUT", f"/v1/customers/{customer_id}", put))
    return calls


def _wait_until_ready(port: int, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the service on port {port} was not ready within {timeout_s:.0f} s")


def _wait_until_drained(port: int, timeout_s: float = 120) -> bool:
    """Whether capture's buffers emptied (every worker's pending count back to 0) in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if capture_metrics(port)["pending"] == 0:
            return True
        time.sleep(0.5)
    return False


def _captured_rows(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(CapturedRequest)).scalar()
    finally:
        engine.dispose()


@contextmanager
def _memory_samples(pid: int, every_s: float = 5.0) -> Iterator[list[float]]:
    """The server's resident memory in MB, sampled from the start of the block to its end."""
    samples = [_tree_rss_mb(pid)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every_s):
            samples.append(_tree_rss_mb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield samples
    finally:
        stop.set()
        sampler.join()
        samples.append(_tree_rss_mb(pid))


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total_kb, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total_kb += next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")),
            0,
        )
    return total_kb / 1024


def _print(figures: dict, options: argparse.Namespace) -> None:
    run, captured = figures["run"], figures["captured"]
    print(
        f"\n{options.seconds:.0f} s at {options.connections} connections ({figures['mix']}): "
        f"{run['requests']} requests, {run['requests_per_s']:.0f} req/s, "
        f"p50 {run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms, "
        f"{run['errors']} errors (warm-up: {figures['warmup']['errors']})"
    )
    print(
        f"capture: {figures['captured_rows_in_run']} rows stored for "
        f"{figures['captured_written_in_run']:.0f} counted written (PUTs are not captured); "
        f"{captured['dropped']:.0f} dropped, {captured['rejected']:.0f} rejected, "
        f"{captured['pending']:.0f} pending at the end"
    )
    rss = figures["rss_mb_every_5_s"]
    print(
        f"server memory: {rss[0]:.0f} MB after the warm-up, {rss[-1]:.0f} MB at the end "
        f"({figures['rss_growth']:+.1%}; target < {TARGET_RSS_GROWTH:.0%}); every 5 s: "
        + " ".join(f"{mb:.0f}" for mb in rss)
    )
    print("PASSED" if figures["passed"] else "FAILED")


if __name__ == "__main__":
    main()
