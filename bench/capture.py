"""What request capture costs: our service with capture off and on, measured in one run.

    .venv/bin/python -m bench.capture           # part of `make bench`

Both servers (one worker each, the text models of the registry's production alias) start
side by side on a fresh SQLite app database; wrk drives POST /v1/demands/classify with one
text per request at 1 and at 8 connections (8 saturates two cores), alternating between the
servers round by round (off, on, on, off, ...) so that drift on a shared machine hits both
alike. A fifth of the texts carry
planted personal data, so the masking does real work. Every request carries an API key the
run makes in that database (scope `classify`, revoked at the end). The figures are the medians
over rounds; the overhead is that of the median latency (target: under 5%).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from app.core.config import Settings
from app.db.migrations import upgrade
from bench.keys import bench_key
from bench.load import (
    LoadResult,
    require_wrk,
    run_wrk,
    running_server,
    server_env,
    wait_until_answering,
)

PORTS = {"capture off": 8105, "capture on": 8106}
PATH = "/v1/demands/classify"
TEXT_MODELS = ["demand-classifier", "spam-filter"]
PLANTED = "，我叫张伟，手机13812345678，家住幸福路8号"


def main() -> None:
    options = _options()
    require_wrk()
    bodies = _bodies()
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{Path(folder) / 'insight.db'}"
        upgrade(database_url)
        env = server_env(Settings().mlflow_store().tracking_uri) | {
            "INSIGHT_DATABASE_URL": database_url,
            "INSIGHT_SERVED_MODELS": json.dumps(TEXT_MODELS),
            "INSIGHT_WORKERS": "1",
        }
        command = [sys.executable, "-m", "app.cli", "serve"]
        print(
            f"{len(bodies)} bodies, one text each; {options.rounds} rounds of "
            f"{options.seconds:.0f} s per server and connection count; {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.2f} at the start"
        )
        figures = {}
        with (
            bench_key(database_url, scopes=["classify"]) as api_key,
            running_server(command, _env(env, "capture off", enabled=False)) as off,
            running_server(command, _env(env, "capture on", enabled=True)) as on,
        ):
            pids = {"capture off": off.pid, "capture on": on.pid}
            for connections in options.connections:
                print(f"\n{connections} connection(s)")
                results, cpu = _measure(bodies, options, pids, connections, api_key)
                captured = _capture_metrics(PORTS["capture on"])
                _print(results, cpu, captured)
                figures[connections] = _figures(results, cpu, captured)
    _save(figures, options.out)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk duration per round")
    parser.add_argument("--rounds", type=int, default=8, help="rounds per server")
    parser.add_argument(
        "--connections", type=int, nargs="+", default=[1, 8], help="connection counts to measure"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/capture.json"))
    return parser.parse_args()


def _bodies() -> list[str]:
    from training.demand_corpus import generate_demands

    texts = generate_demands(500, seed=99)["text"].tolist()
    texts = [text + PLANTED if i % 5 == 0 else text for i, text in enumerate(texts)]
    return [json.dumps({"text": text}, ensure_ascii=False) for text in texts]


def _env(base: dict[str, str], name: str, *, enabled: bool) -> dict[str, str]:
    return base | {"INSIGHT_PORT": str(PORTS[name]), "INSIGHT_CAPTURE_ENABLED": str(enabled)}


def _url(name: str) -> str:
    return f"http://127.0.0.1:{PORTS[name]}{PATH}"


def _measure(
    bodies: list[str],
    options: argparse.Namespace,
    pids: dict[str, int],
    connections: int,
    api_key: str,
) -> tuple[dict[str, list[LoadResult]], dict[str, list[float]]]:
    """Each server's wrk figures per round, and its CPU time per request in microseconds
    (the capture writer's work after the round included): the figure a busy machine
    disturbs least."""
    results: dict[str, list[LoadResult]] = {name: [] for name in PORTS}
    cpu: dict[str, list[float]] = {name: [] for name in PORTS}
    for name in PORTS:
        wait_until_answering(_url(name), bodies[0], api_key=api_key)
        run_wrk(_url(name), bodies, connections=connections, seconds=3, api_key=api_key)  # warm-up
    for round_number in range(options.rounds):
        order = list(PORTS) if round_number % 2 == 0 else list(reversed(PORTS))
        for name in order:
            _wait_until_written(PORTS["capture on"])
            cpu_before = _cpu_seconds(pids[name])
            result = run_wrk(
                _url(name),
                bodies,
                connections=connections,
                seconds=options.seconds,
                api_key=api_key,
            )
            _wait_until_written(PORTS["capture on"])
            requests = result.requests_per_s * options.seconds
            cpu[name].append((_cpu_seconds(pids[name]) - cpu_before) / requests * 1e6)
            results[name].append(result)
            print(
                f"round {round_number + 1} {name:>11}: {result.requests_per_s:7.0f} req/s, "
                f"p50 {result.p50_ms:6.2f} ms, p99 {result.p99_ms:6.2f} ms, "
                f"server CPU {cpu[name][-1]:5.0f} µs/request",
                flush=True,
            )
    return results, cpu


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _capture_metrics(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    return {
        name: float(value)
        for name, value in re.findall(r"^insight_capture_(\w+?)(?:_total)? (\S+)$", text, re.M)
    }


def _wait_until_written(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while _capture_metrics(port).get("pending", 0) > 0 and time.monotonic() < deadline:
        time.sleep(0.2)


def _summary(results: list[LoadResult], cpu_us: list[float]) -> dict[str, float]:
    return {
        "cpu_us_per_request": statistics.median(cpu_us),
        "requests_per_s": statistics.median(r.requests_per_s for r in results),
        "p50_ms": statistics.median(r.p50_ms for r in results),
        "p99_ms": statistics.median(r.p99_ms for r in results),
        "errors": sum(r.errors for r in results),
    }


def _print(
    results: dict[str, list[LoadResult]], cpu: dict[str, list[float]], captured: dict[str, float]
) -> None:
    summaries = {name: _summary(rounds, cpu[name]) for name, rounds in results.items()}
    print(
        f"\n{'':>11} | {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU µs/req':>10} "
        "(medians over rounds)"
    )
    for name, summary in summaries.items():
        print(
            f"{name:>11} | {summary['requests_per_s']:>7.0f} {summary['p50_ms']:>7.2f} "
            f"{summary['p99_ms']:>7.2f} {summary['cpu_us_per_request']:>10.0f}"
            + (f"   ! {summary['errors']:.0f} failed requests" if summary["errors"] else "")
        )
    off, on = summaries["capture off"], summaries["capture on"]
    print(
        f"\nmedian-latency overhead of capture: {_overhead(off['p50_ms'], on['p50_ms']):+.1f}% "
        f"(target < 5%); throughput {_overhead(off['requests_per_s'], on['requests_per_s']):+.1f}%; "
        f"server CPU per request {_overhead(off['cpu_us_per_request'], on['cpu_us_per_request']):+.1f}%"
    )
    print(
        "captured: {written:.0f} written, {pending:.0f} pending, {dropped:.0f} dropped, "
        "{rejected:.0f} rejected".format(**_with_zeros(captured))
    )


def _with_zeros(captured: dict[str, float]) -> dict[str, float]:
    return {name: captured.get(name, 0.0) for name in ("written", "pending", "dropped", "rejected")}


def _overhead(off: float, on: float) -> float:
    return (on / off - 1) * 100 if off else float("nan")


def _figures(
    results: dict[str, list[LoadResult]], cpu: dict[str, list[float]], captured: dict[str, float]
) -> dict:
    return {
        "rounds": {name: [vars(r) for r in rounds] for name, rounds in results.items()},
        "cpu_us_per_request": cpu,
        "medians": {name: _summary(rounds, cpu[name]) for name, rounds in results.items()},
        "captured": _with_zeros(captured),
    }


def _save(figures: dict[int, dict], out: Path) -> None:
    """Per connection count: every round, the medians and the capture counters so far."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({str(c): f for c, f in figures.items()}, indent=2))
    print(f"figures saved to {out}")


if __name__ == "__main__":
    main()
