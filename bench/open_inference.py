"""What speaking the Open Inference Protocol costs: one text per request to the same server
over /v1 and over /v2, measured in one run.

    .venv/bin/python -m bench.open_inference          # part of `make bench`

One server (one worker, the text models of the registry's production alias, capture on) on a
fresh SQLite app database, in which the run makes a key (scope `classify`, revoked at the end).
wrk drives POST /v1/demands/classify ({"text": ...}) and POST
/v2/models/demand-classifier/infer (one BYTES tensor of one text) with the same texts, at 1 and
at 8 connections, alternating round by round (/v1, /v2, /v2, /v1, ...) so that drift on a
shared machine hits both alike. The /v1 answer holds both text models' verdicts, the /v2 one
the demand classifier's. The figures are the medians over rounds; the target: /v2's req/s
within 15% of /v1's at 8 connections. Any failed request fails the run.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench import paired
from bench.keys import bench_key
from bench.load import require_wrk, running_server

PORT = 8109
PATHS = {"/v1": paired.PATH, "/v2": "/v2/models/demand-classifier/infer"}
TARGET_CONNECTIONS, TARGET_PERCENT = 8, 15.0


def main() -> None:
    options = paired.options(__doc__, Path("bench/results/open_inference.json"))
    require_wrk()
    bodies = _bodies()
    with paired.fresh_database() as (database_url, env):
        paired.announce(options, f"{len(bodies['/v1'])} texts, one per request", "endpoint")
        figures = {}
        with (
            bench_key(database_url, scopes=["classify"]) as api_key,
            running_server(paired.SERVE, env | {"INSIGHT_PORT": str(PORT)}) as server,
        ):
            sides = paired.Paired(
                {name: PORT for name in PATHS}, {name: server.pid for name in PATHS}, PATHS
            )
            for connections in options.connections:
                print(f"\n{connections} connection(s)")
                results, cpu = paired.measure(sides, bodies, options, connections, api_key)
                medians = paired.summaries(results, cpu)
                _print(medians, connections)
                figures[connections] = paired.round_figures(results, cpu, medians) | {
                    "v2_against_v1_percent": _difference(medians)
                }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(figures, indent=2))
    print(f"\nfigures saved to {options.out}")
    paired.fail_on_errors(figures)


def _bodies() -> dict[str, list[str]]:
    from training.text.corpus import generate_demands

    texts = generate_demands(500, seed=99)["text"].tolist()
    tensor = {"name": "text", "shape": [1], "datatype": "BYTES"}
    return {
        "/v1": [json.dumps({"text": text}, ensure_ascii=False) for text in texts],
        "/v2": [
            json.dumps({"inputs": [tensor | {"data": [text]}]}, ensure_ascii=False)
            for text in texts
        ],
    }


def _difference(medians: dict[str, dict[str, float]]) -> float:
    """/v2's req/s against /v1's, in percent."""
    return paired.change(medians["/v1"]["requests_per_s"], medians["/v2"]["requests_per_s"])


def _print(medians: dict[str, dict[str, float]], connections: int) -> None:
    paired.print_medians(medians)
    difference = _difference(medians)
    target = f"target: within {TARGET_PERCENT:g}% at {TARGET_CONNECTIONS} connections"
    if connections == TARGET_CONNECTIONS:
        met = abs(difference) <= TARGET_PERCENT or difference > 0
        target = f"{'meets' if met else 'MISSES'} the {target}"
    print(f"\n/v2 req/s against /v1: {difference:+.1f}% ({target})")


if __name__ == "__main__":
    main()
