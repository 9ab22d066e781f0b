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

import json
from pathlib import Path

import httpx

from bench import paired
from bench.keys import bench_key
from bench.load import (
    require_wrk,
    running_server,
    wait_until_answering,
)

PORTS = {"unchecked": 8107, "checked": 8108}
TARGET_CONNECTIONS, TARGET_LOSS_PERCENT = 8, 5.0


def main() -> None:
    options = paired.options(__doc__, Path("bench/results/auth.json"))
    require_wrk()
    bodies = _bodies()
    with paired.fresh_database() as (database_url, env):
        paired.announce(options, f"{len(bodies)} bodies, one text each", "server")
        figures = {}
        with (
            bench_key(database_url, scopes=["classify"]) as api_key,
            running_server(paired.SERVE, _env(env, "unchecked", required=False)) as unchecked,
            running_server(paired.SERVE, _env(env, "checked", required=True)) as checked,
        ):
            servers = paired.Paired(PORTS, {"unchecked": unchecked.pid, "checked": checked.pid})
            _check_settings(servers, bodies[0], api_key)
            for connections in options.connections:
                print(f"\n{connections} connection(s)")
                results, cpu = paired.measure(servers, bodies, options, connections, api_key)
                medians = paired.summaries(results, cpu)
                _print(medians, connections)
                figures[connections] = paired.round_figures(results, cpu, medians) | {
                    "requests_per_s_loss_percent": _loss(medians),
                    "captured": {
                        name: paired.capture_metrics(port) for name, port in PORTS.items()
                    },
                }
    _save(figures, options.out)
    paired.fail_on_errors(figures)


def _bodies() -> list[str]:
    from training.text.corpus import generate_demands

    texts = generate_demands(500, seed=99)["text"].tolist()
    return [json.dumps({"text": text}, ensure_ascii=False) for text in texts]


def _env(base: dict[str, str], name: str, *, required: bool) -> dict[str, str]:
    return base | {"INSIGHT_PORT": str(PORTS[name]), "INSIGHT_REQUIRE_API_KEYS": str(required)}


def _check_settings(servers: paired.Paired, body: str, api_key: str) -> None:
    """Both servers answer the key; only "checked" refuses a request without one (else the
    run would compare two unchecked servers)."""
    for name in PORTS:
        wait_until_answering(servers.url(name), body, api_key=api_key)
    expected = {"unchecked": 200, "checked": 401}
    for name, status in expected.items():
        answer = httpx.post(
            servers.url(name), content=body, headers={"Content-Type": "application/json"}
        )
        if answer.status_code != status:
            raise SystemExit(
                f"{name} answered {answer.status_code} without a key, not {status}: "
                "is INSIGHT_REQUIRE_API_KEYS honoured?"
            )


def _print(medians: dict[str, dict[str, float]], connections: int) -> None:
    paired.print_medians(medians)
    unchecked, checked = medians["unchecked"], medians["checked"]
    loss = _loss(medians)
    print(
        f"\nreq/s lost by checking keys: {loss:.1f}% ({_verdict(loss, connections)}); "
        f"p50 {paired.change(unchecked['p50_ms'], checked['p50_ms']):+.1f}%, "
        f"p99 {paired.change(unchecked['p99_ms'], checked['p99_ms']):+.1f}%, "
        f"server CPU per request "
        f"{paired.change(unchecked['cpu_us_per_request'], checked['cpu_us_per_request']):+.1f}%"
    )


def _verdict(loss: float, connections: int) -> str:
    target = f"target: at most {TARGET_LOSS_PERCENT:g}% at {TARGET_CONNECTIONS} connections"
    if connections != TARGET_CONNECTIONS:
        return target
    return f"{'meets' if loss <= TARGET_LOSS_PERCENT else 'MISSES'} the {target}"


def _loss(medians: dict[str, dict[str, float]]) -> float:
    """Percent of the unchecked server's req/s the checked one does not reach."""
    return -paired.change(
        medians["unchecked"]["requests_per_s"], medians["checked"]["requests_per_s"]
    )


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


if __name__ == "__main__":
    main()
