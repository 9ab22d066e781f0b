"""Scoring one customer: our service with all four customer models in one answer, against
`mlflow models serve` with the churn model alone, on the same registered churn version.

    .venv/bin/python -m bench.customers        # part of `make bench`

wrk sends the same 500 built-in-world customers, one per request, at 1, 8 and 64 connections.
Ours checks an API key on every request: the run makes one (scope `score`) in the app database
of the settings and revokes it at the end; MLflow's server gets none.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.core.config import Settings
from bench.keys import bench_key
from bench.load import (
    json_records,
    mlflow_serve_command,
    require_wrk,
    run_wrk,
    running_server,
    server_env,
    wait_until_answering,
)
from model_registry.registry import resolve_version
from training.customers.schema import LABEL_COLUMNS

CONNECTIONS = (1, 8, 64)
OURS_PORT, MLFLOW_PORT = 8103, 8104


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", default="1")
    parser.add_argument("--out", type=Path, default=Path("bench/results/customers.json"))
    options = parser.parse_args()
    require_wrk()
    settings = Settings()
    store = settings.mlflow_store()
    version = resolve_version(store.activate(), "churn").version
    records = _records()
    database_url = settings.app_database_url()
    env = server_env(store.tracking_uri) | {"INSIGHT_DATABASE_URL": database_url}
    print(
        f"churn version {version}; {len(records)} distinct customers; {options.seconds:.0f} s per cell"
    )
    with bench_key(database_url, scopes=["score"]) as api_key:
        results = _run(_servers(options.workers, version, records, api_key), env, options.seconds)
    _print(results)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(
        json.dumps(
            {n: {c: vars(r) for c, r in cells.items()} for n, cells in results.items()}, indent=2
        )
    )


def _servers(workers: str, version: str, records: list[dict], api_key: str) -> dict[str, tuple]:
    """Per server: its command, port, path, bodies, extra environment and API key."""
    return {
        f"ours, 4 models, {workers} worker(s)": (
            [sys.executable, "-m", "app.cli", "serve"],
            OURS_PORT,
            "/v1/customers/score",
            [json.dumps({"customers": [{"features": r}]}, ensure_ascii=False) for r in records],
            {"INSIGHT_WORKERS": workers, "INSIGHT_PORT": str(OURS_PORT)},
            api_key,
        ),
        "mlflow models serve, churn only": (
            mlflow_serve_command("churn", version, MLFLOW_PORT),
            MLFLOW_PORT,
            "/invocations",
            [json.dumps({"dataframe_records": [r]}, ensure_ascii=False) for r in records],
            {},
            None,
        ),
    }


def _run(servers: dict[str, tuple], env: dict[str, str], seconds: float) -> dict:
    """Each server in turn, alone on the machine: its figures per connection count."""
    results = {}
    for name, (command, port, path, bodies, extra, api_key) in servers.items():
        url = f"http://127.0.0.1:{port}{path}"
        with running_server(command, {**env, **extra}):
            wait_until_answering(url, bodies[0], api_key=api_key)
            run_wrk(url, bodies, connections=8, seconds=2, api_key=api_key)
            results[name] = {
                c: run_wrk(url, bodies, connections=c, seconds=seconds, api_key=api_key)
                for c in CONNECTIONS
            }
    return results


def _records() -> list[dict]:
    from training.customers.world import generate_customers

    frame = generate_customers(500, seed=123).drop(columns=["customer_id", *LABEL_COLUMNS])
    return json_records(frame)


def _print(results) -> None:
    names = list(results)
    print(f"\n{'conns':>5} | " + " | ".join(f"{n:^34}" for n in names) + " | ratio")
    for c in CONNECTIONS:
        cells = [results[n][c] for n in names]
        row = " | ".join(
            f"{r.requests_per_s:>8.0f} req/s p50 {r.p50_ms:>6.1f} p99 {r.p99_ms:>6.1f}"
            for r in cells
        )
        ours, theirs = cells[0].requests_per_s, cells[1].requests_per_s
        print(f"{c:>5} | {row} | {ours / theirs if theirs else float('inf'):.2f}x")
        for name, result in zip(names, cells, strict=True):
            if result.errors:  # a refused key (401) counts here
                print(f"   ! {name}: {result.errors} failed requests at {c} connections")


if __name__ == "__main__":
    main()
