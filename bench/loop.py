"""The feedback loop end to end, through the HTTP API of a running service (README, "Closing
the loop"):

    make run                                   # in one terminal: the service, six models
    .venv/bin/python -m bench.loop             # in another

1. Traffic from drifted worlds: customers of the price war scored (POST /v1/customers/score),
   texts of the new wording classified (POST /v1/demands/classify); the service captures both.
2. ``insight monitor drift``: the shifted features flagged, the others not.
3. The accuracy on held-out texts of the new wording, as the service answers them.
4. Agents' corrections of a few hundred of those texts (POST /v1/feedback, by request id).
5. ``insight train demand-classifier --with-feedback``, ``insight models promote`` (through
   the gates), a refresh of the service's models (POST /v1/admin/models/refresh).
6. The accuracy on the same held-out texts again.

It changes the registry it runs on (a new demand-classifier version in production): run it on
the ``make run`` data, not on a deployment that matters. The tests run the same steps, small
(tests/test_feedback_loop.py).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

from bench.keys import auth_headers
from bench.load import json_records
from training.customers.schema import LABEL_COLUMNS
from training.customers.world import generate_customers
from training.text.corpus import generate_demands, generate_drifted_demands

CUSTOMER_BATCH = 100  # the default INSIGHT_MAX_CUSTOMERS_PER_REQUEST
TEXT_BATCH = 32
FEEDBACK_BATCH = 100  # the default INSIGHT_MAX_FEEDBACK_PER_REQUEST
CAPTURE_WAIT_S = 60.0  # for the capture worker to write the traffic down
CAPTURE_OUTCOMES = {
    f"insight_capture_{outcome}_total" for outcome in ("written", "dropped", "rejected")
}

Insight = Callable[[Sequence[str]], tuple[int, str]]  # `insight ARGS` -> exit status, output


@dataclass(frozen=True)
class Classified:
    """One text as the service classified it, and where to find it again."""

    request_id: str
    index: int
    category: str | None


def drifted_customers(rows: int, seed: int) -> pd.DataFrame:
    """Customers of the price war, as a CRM would send them: features only."""
    world = generate_customers(rows, seed=seed, drift="price-war")
    return world.drop(columns=[c for c in LABEL_COLUMNS if c in world.columns])


def new_wording(rows: int, seed: int) -> pd.DataFrame:
    """Texts of the new wording (text, category): the drifted category's texts only."""
    return generate_drifted_demands(rows, seed=seed, drift="new-wording")[["text", "category"]]


def score_customers(
    client: httpx.Client, customers: pd.DataFrame, models: Sequence[str] | None = None
) -> None:
    """Score ``customers`` with ``models`` (None: every customer model)."""
    records = json_records(customers)
    for start in range(0, len(records), CUSTOMER_BATCH):
        batch = records[start : start + CUSTOMER_BATCH]
        body = {
            "customers": [
                {"customer_id": record.pop("customer_id", None), "features": record}
                for record in batch
            ],
            "models": None if models is None else list(models),
        }
        _ok(client.post("/v1/customers/score", json=body))


def classify(client: httpx.Client, texts: Sequence[str]) -> list[Classified]:
    """Each text's category, in batches, each request with an X-Request-ID of ours."""
    answers = []
    for start in range(0, len(texts), TEXT_BATCH):
        request_id = uuid.uuid4().hex
        reply = client.post(
            "/v1/demands/classify",
            json={"texts": list(texts[start : start + TEXT_BATCH])},
            headers={"X-Request-ID": request_id},
        )
        _ok(reply)
        answers += [
            Classified(request_id, index, result["category"])
            for index, result in enumerate(reply.json()["results"])
        ]
    return answers


def accuracy(client: httpx.Client, texts: Sequence[str], truth: Sequence[str]) -> float:
    said = [answer.category for answer in classify(client, texts)]
    return sum(s == t for s, t in zip(said, truth)) / len(truth)


def correct(
    client: httpx.Client, classified: Sequence[Classified], truth: Sequence[str], *, by: str
) -> int:
    """Send the right category of each classified text, by request id and index, as an agent
    would (the captured classifications must be written). Returns how many."""
    items = [
        {
            "kind": "text",
            "request_id": answer.request_id,
            "index": answer.index,
            "category": category,
            "corrected_by": by,
        }
        for answer, category in zip(classified, truth)
    ]
    for start in range(0, len(items), FEEDBACK_BATCH):
        _ok(client.post("/v1/feedback", json={"items": items[start : start + FEEDBACK_BATCH]}))
    return len(items)


def captures_settled(client: httpx.Client) -> float:
    """How many captured requests the service has written, dropped or refused (/metrics)."""
    families = text_string_to_metric_families(client.get("/metrics").text)
    return sum(
        sample.value
        for family in families
        for sample in family.samples
        if sample.name in CAPTURE_OUTCOMES
    )


def wait_for_capture(client: httpx.Client, settled: float) -> None:
    """Wait (bounded) until ``settled`` captured requests are written, dropped or refused."""
    deadline = time.monotonic() + CAPTURE_WAIT_S
    while captures_settled(client) < settled:
        if time.monotonic() > deadline:
            raise RuntimeError("the service did not write its captured requests in time")
        time.sleep(0.2)


def refresh_models(client: httpx.Client) -> None:
    _ok(client.post("/v1/admin/models/refresh"))


def _ok(reply: httpx.Response) -> None:
    if reply.status_code != 200:
        raise RuntimeError(f"{reply.request.method} {reply.request.url.path}: {reply.text}")


@dataclass(frozen=True)
class LoopFigures:
    drift_status: int
    drift_report: Path
    corrections: int
    accuracy_before: float
    accuracy_after: float
    new_version: str


def run_loop(
    client: httpx.Client,
    insight: Insight,
    *,
    corpus: Path,
    report_dir: Path,
    customers: int,
    texts: int,
    corrections: int,
    held_out: int,
    customer_models: Sequence[str] | None = None,
    seed: int = 1,
    candidates: str = "all",
    say: Callable[[str], None] = print,
) -> LoopFigures:
    """Every step of the loop against the service behind ``client``; ``corpus`` is the CSV the
    demand classifier was trained on, retrained on again with the feedback."""
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    say(f"1. scoring {customers} customers of the price war, classifying {texts} texts of the")
    say("   new wording's corpus")
    settled = captures_settled(client)
    score_customers(client, drifted_customers(customers, seed=seed), customer_models)
    classify(client, generate_demands(texts, seed=seed, drift="new-wording")["text"].tolist())
    wording = new_wording(corrections + held_out, seed=seed + 1)
    taught, held_out = wording.iloc[:corrections], wording.iloc[corrections:]
    classified = classify(client, taught["text"].tolist())
    requests = (
        math.ceil(customers / CUSTOMER_BATCH)
        + math.ceil(texts / TEXT_BATCH)
        + math.ceil(corrections / TEXT_BATCH)
    )
    wait_for_capture(client, settled + requests)  # corrections by request id need them
    say("2. insight monitor drift")
    drift_status, output = insight(["monitor", "drift", "--since", since, "--out", str(report_dir)])
    say(output)
    before = accuracy(client, held_out["text"].tolist(), held_out["category"].tolist())
    say(f"3. accuracy on {len(held_out)} held-out texts of the new wording: {before:.3f}")
    say(f"   ({corrections} others were classified with the traffic, to be corrected)")
    sent = correct(client, classified, taught["category"].tolist(), by="bench.loop")
    say(f"4. {sent} corrections sent by request id")
    say("5. insight train demand-classifier --with-feedback; insight models promote")
    status, output = insight(
        [
            "train",
            "demand-classifier",
            "--data",
            str(corpus),
            "--candidates",
            candidates,
            "--with-feedback",
            "--since",
            since,
        ]
    )
    say(output)
    if status:
        raise RuntimeError("training with feedback failed")
    version = output.split("registered demand-classifier version ")[1].split()[0]
    status, output = insight(["models", "promote", "demand-classifier", "--version", version])
    say(output)
    if status:
        raise RuntimeError("the new version did not pass the promotion gates")
    refresh_models(client)
    after = accuracy(client, held_out["text"].tolist(), held_out["category"].tolist())
    say(f"6. accuracy on the same held-out texts: {before:.3f} -> {after:.3f}")
    return LoopFigures(drift_status, report_dir, sent, before, after, version)


def _subprocess_insight(args: Sequence[str]) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, check=False
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key-file", type=Path, default=Path("var/admin.key"))
    parser.add_argument("--corpus", type=Path, default=Path("var/demands.csv"))
    parser.add_argument("--report", type=Path, default=Path("var/loop-drift"))
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--texts", type=int, default=6000, help="of the drifted corpus")
    parser.add_argument("--corrections", type=int, default=300)
    parser.add_argument("--held-out", type=int, default=1000)
    options = parser.parse_args()
    headers = auth_headers(options.api_key_file.read_text().strip())
    with httpx.Client(base_url=options.base_url, headers=headers, timeout=60) as client:
        figures = run_loop(
            client,
            _subprocess_insight,
            corpus=options.corpus,
            report_dir=options.report,
            customers=options.customers,
            texts=options.texts,
            corrections=options.corrections,
            held_out=options.held_out,
        )
    print(figures)


if __name__ == "__main__":
    main()
