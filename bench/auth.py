"""What checking API keys costs: our service checking a key on every request, and the same
build letting every caller in, measured in one run.

    .venv/bin/python -m bench.auth

Both servers (one worker each, the text models of the registry's production alias, capture at
its default: on) start side by side on one fresh SQLite app database, in which the run makes a
key (scope `classify`, revoked at the end). "checked" runs with INSIGHT_REQUIRE_API_KEYS=true;
"unchecked" with INSIGHT_REQUIRE_API_KEYS=false, which runs the very same path with a check
that always passes (every caller is let in as admin). wrk sends the key to both, so both get
the same bytes, and drives POST /v1/demands/classify with one text per request at 1 and at 8
connections (8 saturates two cores), alternating between the servers round by round
(unchecked, checked, checked, unchecked, ...) so that drift on a shared machine hits both
alike. The figures are the medians over rounds; the cost is the req/s lost by checking
(target: at most 5% at 8 connections). Any failed request (a 401 included) fails the run.
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

PORTS = {"unchecked": 8107, "checked": 8108}
PATH = "/v1/demands/classify"
TEXT_MODELS = ["demand-classifier", "spam-filter"]
TARGET_CONNECTIONS, TARGET_LOSS_PERCENT = 8, 5.0


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
            "INSIGHT_CAPTURE_ENABLED": "true",  # the default, whatever this shell says
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
            running_server(command, _env(env, "unchecked", required=False)) as unchecked,
            running_server(command, _env(env, "checked", required=True)) as checked,
        ):
            pids = {"unchecked": unchecked.pid, "checked": checked.pid}
            _check_settings(bodies[0], api_key)
            for connections in options.connections:
                print(f"\n{connections} connection(s)")
                results, cpu = _measure(bodies, options, pids, connections, api_key)
                captured = {name: _capture_metrics(port) for name, port in PORTS.items()}
                _print(results, cpu, connections)
                figures[connections] = _figures(results, cpu, captured)
    _save(figures, options.out)
    _fail_on_errors(figures)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk duration per round")
    parser.add_argument("--rounds", type=int, default=8, help="rounds per server")
    parser.add_argument(
        "--connections", type=int, nargs="+", default=[1, 8], help="connection counts to measure"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/auth.json"))
    return parser.parse_args()


def _bodies() -> list[str]:
    from training.demand_corpus import generate_demands

    texts = generate_demands(500, seed=99)["text"].tolist()
    return [json.dumps({"text": text}, ensure_ascii=False) for text in texts]


def _env(base: dict[str, str], name: str, *, required: bool) -> dict[str, str]:
    return base | {"INSIGHT_PORT": str(PORTS[name]), "INSIGHT_REQUIRE_API_KEYS": str(required)}


def _url(name: str) -> str:
    return f"http://127.0.0.1:{PORTS[name]}{PATH}"


def _check_settings(body: str, api_key: str) -> None:
    """Both servers answer the key; only "checked" refuses a request without one (else the
    run would compare two unchecked servers)."""
    for name in PORTS:
        wait_until_answering(_url(name), body, api_key=api_key)
    expected = {"unchecked": 200, "checked": 401}
    for name, status in expected.items():
        answer = httpx.post(_url(name), content=body, headers={"Content-Type": "application/json"})
        if answer.status_code != status:
            raise SystemExit(
                f"{name} answered {answer.status_code} without a key, not {status}: "
                "is INSIGHT_REQUIRE_API_KEYS honoured?"
            )


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
        run_wrk(_url(name), bodies, connections=connections, seconds=3, api_key=api_key)  # warm-up
    for round_number in range(options.rounds):
        order = list(PORTS) if round_number % 2 == 0 else list(reversed(PORTS))
        for name in order:
            _wait_until_written()
            cpu_before = _cpu_seconds(pids[name])
            result = run_wrk(
                _url(name),
                bodies,
                connections=connections,
                seconds=options.seconds,
                api_key=api_key,
            )
            _wait_until_written()
            requests = max(result.requests_per_s * options.seconds, 1.0)
            cpu[name].append((_cpu_seconds(pids[name]) - cpu_before) / requests * 1e6)
            results[name].append(result)
            print(
                f"round {round_number + 1} {name:>9}: {result.requests_per_s:7.0f} req/s, "
                f"p50 {result.p50_ms:6.2f} ms, p99 {result.p99_ms:6.2f} ms, "
                f"server CPU {cpu[name][-1]:5.0f} µs/request"
                + (f"   ! {result.errors} failed requests" if result.errors else ""),
                flush=True,
            )
    return results, cpu


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _capture_metrics(port: int) -> dict[str, float]:
    """The capture counters of one server (/metrics answers loopback callers without a key)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    return {
        name: float(value)
        for name, value in re.findall(r"^insight_capture_(\w+?)(?:_total)? (\S+)$", text, re.M)
    }


def _wait_until_written(timeout_s: float = 60) -> None:
    """Both servers capture: wait until neither has requests waiting for the database."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(
        _capture_metrics(port).get("pending", 0) > 0 for port in PORTS.values()
    ):
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
    results: dict[str, list[LoadResult]], cpu: dict[str, list[float]], connections: int
) -> None:
    summaries = {name: _summary(rounds, cpu[name]) for name, rounds in results.items()}
    print(
        f"\n{'':>9} | {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU µs/req':>10} "
        "(medians over rounds)"
    )
    for name, summary in summaries.items():
        print(
            f"{name:>9} | {summary['requests_per_s']:>7.0f} {summary['p50_ms']:>7.2f} "
            f"{summary['p99_ms']:>7.2f} {summary['cpu_us_per_request']:>10.0f}"
            + (f"   ! {summary['errors']:.0f} failed requests" if summary["errors"] else "")
        )
    unchecked, checked = summaries["unchecked"], summaries["checked"]
    loss = _loss(unchecked["requests_per_s"], checked["requests_per_s"])
    print(
        f"\nreq/s lost by checking keys: {loss:.1f}% ({_verdict(loss, connections)}); "
        f"p50 {_change(unchecked['p50_ms'], checked['p50_ms']):+.1f}%, "
        f"p99 {_change(unchecked['p99_ms'], checked['p99_ms']):+.1f}%, "
        f"server CPU per request "
        f"{_change(unchecked['cpu_us_per_request'], checked['cpu_us_per_request']):+.1f}%"
    )


def _verdict(loss: float, connections: int) -> str:
    target = f"target: at most {TARGET_LOSS_PERCENT:g}% at {TARGET_CONNECTIONS} connections"
    if connections != TARGET_CONNECTIONS:
        return target
    return f"{'meets' if loss <= TARGET_LOSS_PERCENT else 'MISSES'} the {target}"


def _loss(unchecked: float, checked: float) -> float:
    """Percent of the unchecked server's req/s the checked one does not reach."""
    return (1 - checked / unchecked) * 100 if unchecked else float("nan")


def _change(unchecked: float, checked: float) -> float:
    return (checked / unchecked - 1) * 100 if unchecked else float("nan")


def _with_zeros(captured: dict[str, float]) -> dict[str, float]:
    return {name: captured.get(name, 0.0) for name in ("written", "pending", "dropped", "rejected")}


def _figures(
    results: dict[str, list[LoadResult]],
    cpu: dict[str, list[float]],
    captured: dict[str, dict[str, float]],
) -> dict:
    medians = {name: _summary(rounds, cpu[name]) for name, rounds in results.items()}
    return {
        "rounds": {name: [vars(r) for r in rounds] for name, rounds in results.items()},
        "cpu_us_per_request": cpu,
        "medians": medians,
        "requests_per_s_loss_percent": _loss(
            medians["unchecked"]["requests_per_s"], medians["checked"]["requests_per_s"]
        ),
        "captured": {name: _with_zeros(counters) for name, counters in captured.items()},
    }


def _save(figures: dict[int, dict], out: Path) -> None:
    """Per connection count: every round, the medians, the req/s loss and the capture
    counters so far; and the target."""
    out.parent.mkdir(parents=True, exist_ok=True)
    target = {
        "connections": TARGET_CONNECTIONS,
        "max_requests_per_s_loss_percent": TARGET_LOSS_PERCENT,
    }
    results = {str(c): f for c, f in figures.items()}
    out.write_text(json.dumps({"target": target, "results": results}, indent=2))
    print(f"figures saved to {out}")


def _fail_on_errors(figures: dict[int, dict]) -> None:
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


if __name__ == "__main__":
    main()
