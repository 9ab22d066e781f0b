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

import json
from pathlib import Path

from bench import paired
from bench.keys import bench_key
from bench.load import (
    require_wrk,
    running_server,
)

PORTS = {"capture off": 8105, "capture on": 8106}
PLANTED = "，我叫张伟，手机13812345678，家住幸福路8号"


def main() -> None:
    options = paired.options(__doc__, Path("bench/results/capture.json"))
    require_wrk()
    bodies = _bodies()
    with paired.fresh_database() as (database_url, env):
        paired.announce(options, f"{len(bodies)} bodies, one text each", "server")
        figures = {}
        with (
            bench_key(database_url, scopes=["classify"]) as api_key,
            running_server(paired.SERVE, _env(env, "capture off", enabled=False)) as off,
            running_server(paired.SERVE, _env(env, "capture on", enabled=True)) as on,
        ):
            servers = paired.Paired(PORTS, {"capture off": off.pid, "capture on": on.pid})
            for connections in options.connections:
                print(f"\n{connections} connection(s)")
                results, cpu = paired.measure(servers, bodies, options, connections, api_key)
                medians = paired.summaries(results, cpu)
                captured = paired.capture_metrics(PORTS["capture on"])
                _print(medians, captured)
                figures[connections] = paired.round_figures(results, cpu, medians) | {
                    "captured": captured
                }
    _save(figures, options.out)


def _bodies() -> list[str]:
    from training.text.corpus import generate_demands

    texts = generate_demands(500, seed=99)["text"].tolist()
    texts = [text + PLANTED if i % 5 == 0 else text for i, text in enumerate(texts)]
    return [json.dumps({"text": text}, ensure_ascii=False) for text in texts]


def _env(base: dict[str, str], name: str, *, enabled: bool) -> dict[str, str]:
    return base | {"INSIGHT_PORT": str(PORTS[name]), "INSIGHT_CAPTURE_ENABLED": str(enabled)}


def _print(medians: dict[str, dict[str, float]], captured: dict[str, float]) -> None:
    paired.print_medians(medians)
    off, on = medians["capture off"], medians["capture on"]
    print(
        f"\nmedian-latency overhead of capture: {paired.change(off['p50_ms'], on['p50_ms']):+.1f}% "
        f"(target < 5%); throughput "
        f"{paired.change(off['requests_per_s'], on['requests_per_s']):+.1f}%; server CPU per "
        f"request {paired.change(off['cpu_us_per_request'], on['cpu_us_per_request']):+.1f}%"
    )
    print(
        "captured: {written:.0f} written, {pending:.0f} pending, {dropped:.0f} dropped, "
        "{rejected:.0f} rejected".format(**captured)
    )


def _save(figures: dict[int, dict], out: Path) -> None:
    """Per connection count: every round, the medians and the capture counters so far."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({str(c): f for c, f in figures.items()}, indent=2))
    print(f"figures saved to {out}")


if __name__ == "__main__":
    main()
