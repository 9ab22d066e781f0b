"""Our service against `mlflow models serve`, on the same registered demand-classifier version.

    make bench                                # or: .venv/bin/python -m bench.serving

Both servers run on this machine, one after the other, and wrk drives each with the same texts
(one per request and 32 per request) at 1, 8 and 64 connections. Ours answers the demand
category and the spam verdict (two models); MLflow's answers the demand classifier alone.
Ours checks an API key on every request: the run makes one (scope `classify`) in the app
database of the settings and revokes it at the end; MLflow's server gets none.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pandas as pd

from app.core.config import Settings
from bench.keys import bench_key
from bench.load import (
    LoadResult,
    mlflow_serve_command,
    require_wrk,
    run_wrk,
    running_server,
    server_env,
    wait_until_answering,
)
from model_registry.registry import resolve_version

CONNECTIONS = (1, 8, 64)
BATCH_SIZES = (1, 32)
OURS_PORT, MLFLOW_PORT = 8101, 8102


def main() -> None:
    options = _options()
    require_wrk()
    settings = Settings()
    store = settings.mlflow_store()
    version = resolve_version(store.activate(), "demand-classifier", alias=options.alias).version
    texts = _texts(options.texts)
    database_url = settings.app_database_url()
    env = server_env(store.tracking_uri, alias=options.alias) | {
        "INSIGHT_DATABASE_URL": database_url
    }
    print(
        f"demand-classifier version {version} (@{options.alias}); {len(texts)} distinct texts; "
        f"{options.seconds:.0f} s per cell; {os.cpu_count()} cores"
    )
    with bench_key(database_url, scopes=["classify"]) as api_key:
        results = _run(_servers(version, api_key), env, texts, options.seconds)
    for name in results:
        if name != "mlflow":
            _print_table(name, results[name], results["mlflow"])
    _save(results, options.out, version)


def _servers(version: str, api_key: str) -> dict[str, tuple]:
    """Per server: its command, port, path, body maker, extra environment and API key."""
    ours = (
        [sys.executable, "-m", "app.cli", "serve"],
        OURS_PORT,
        "/v1/demands/classify",
        _our_body,
    )
    return {
        "ours, 1 worker": (*ours, {"INSIGHT_WORKERS": "1"}, api_key),
        "ours, 2 workers": (*ours, {"INSIGHT_WORKERS": "2"}, api_key),
        "mlflow": (
            mlflow_serve_command("demand-classifier", version, MLFLOW_PORT),
            MLFLOW_PORT,
            "/invocations",
            _mlflow_body,
            {},
            None,
        ),
    }


def _run(
    servers: dict[str, tuple], env: dict[str, str], texts: list[str], seconds: float
) -> dict[str, dict[str, LoadResult]]:
    """Each server in turn, alone on the machine: its figures per cell."""
    results: dict[str, dict[str, LoadResult]] = {}
    for name, (command, port, path, body, extra_env, api_key) in servers.items():
        url = f"http://127.0.0.1:{port}{path}"
        with running_server(command, {**env, **extra_env, "INSIGHT_PORT": str(port)}):
            wait_until_answering(url, body(texts[:1]), api_key=api_key)
            results[name] = _measure(url, texts, body, seconds, api_key)
    return results


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="wrk duration per cell")
    parser.add_argument("--alias", default="production")
    parser.add_argument("--texts", type=Path, default=None, help="CSV with a text column")
    parser.add_argument("--out", type=Path, default=Path("bench/results/serving.json"))
    return parser.parse_args()


def _texts(path: Path | None) -> list[str]:
    if path is not None:
        return pd.read_csv(path)["text"].astype(str).head(2000).tolist()
    from training.text.corpus import generate_demands

    return generate_demands(2000, seed=99)["text"].tolist()


def _our_body(texts: list[str]) -> str:
    payload = {"text": texts[0]} if len(texts) == 1 else {"texts": texts}
    return json.dumps(payload, ensure_ascii=False)


def _mlflow_body(texts: list[str]) -> str:
    payload = {"dataframe_split": {"columns": ["text"], "data": [[t] for t in texts]}}
    return json.dumps(payload, ensure_ascii=False)


def _measure(
    url: str, texts: list[str], body, seconds: float, api_key: str | None
) -> dict[str, LoadResult]:
    cells = {}
    for batch in BATCH_SIZES:
        bodies = [body(texts[i : i + batch]) for i in range(0, len(texts) - batch + 1, batch)][:500]
        run_wrk(url, bodies, connections=8, seconds=2, api_key=api_key)  # warm-up
        for connections in CONNECTIONS:
            cells[f"{batch}x{connections}"] = run_wrk(
                url, bodies, connections=connections, seconds=seconds, api_key=api_key
            )
    return cells


def _print_table(
    name: str, ours_cells: dict[str, LoadResult], mlflow_cells: dict[str, LoadResult]
) -> None:
    print(f"\n{name} against mlflow models serve (1 worker)")
    print(
        f"{'texts/req':>9} {'conns':>5} | {'ours req/s':>10} {'p50 ms':>7} {'p99 ms':>7} | "
        f"{'mlflow req/s':>12} {'p50 ms':>7} {'p99 ms':>7} | {'ratio':>5}"
    )
    for cell, ours in ours_cells.items():
        theirs = mlflow_cells[cell]
        batch, connections = cell.split("x")
        ratio = (
            ours.requests_per_s / theirs.requests_per_s if theirs.requests_per_s else float("inf")
        )
        print(
            f"{batch:>9} {connections:>5} | {ours.requests_per_s:>10.0f} {ours.p50_ms:>7.2f} "
            f"{ours.p99_ms:>7.2f} | {theirs.requests_per_s:>12.0f} {theirs.p50_ms:>7.2f} "
            f"{theirs.p99_ms:>7.2f} | {ratio:>5.2f}x"
        )
        for server, result in (("ours", ours), ("mlflow", theirs)):
            if result.errors:
                print(f"   ! {server}: {result.errors} failed requests in this cell")


def _save(results, out: Path, version: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {name: {cell: vars(r) for cell, r in cells.items()} for name, cells in results.items()}
    out.write_text(json.dumps({"version": version, "results": data}, indent=2))
    print(f"\nfigures saved to {out}")


if __name__ == "__main__":
    main()
