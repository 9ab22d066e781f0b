"""The replay report as one HTML page (no scripts, no outside assets; PNGs sit beside it)."""

from __future__ import annotations

from html import escape
from typing import Any

STYLE = """
body { font-family: "Noto Sans CJK SC", "PingFang SC", sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; }
.pass { color: #1a7f37; } .fail { color: #cf222e; } .warn { color: #9a6700; }
img { max-width: 100%; margin: 0.5em 1em 1em 0; vertical-align: top; }
"""


def report_page(summary: dict[str, Any]) -> str:
    """The whole page: verdict, models, flips, score changes, changed requests, failures."""
    sections = [
        _verdict(summary),
        _models(summary),
        _flips(summary),
        _changes(summary),
        _changed_most(summary),
        _failures(summary),
        _latency(summary),
    ]
    return (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>Replay against staging</title><style>{STYLE}</style></head><body>"
        + "".join(sections)
        + "</body></html>\n"
    )


def _verdict(summary: dict[str, Any]) -> str:
    requests, rate = summary["requests"], summary["agreement_rate"]
    verdict = f"<p>Agreement rate: <strong>{_share(rate)}</strong>"
    if summary["passed"] is not None:
        css, word = ("pass", "passes") if summary["passed"] else ("fail", "fails")
        gate = f"{word} --min-agreement {_share(summary['min_agreement'])}"
        verdict += f' — <span class="{css}">{gate}</span>'
    target = summary["target"]
    rows = [
        ("target", f"{target['kind']} {target.get('url') or ''}".strip()),
        ("generated at", summary["generated_at"]),
        ("filters", "; ".join(f"{k}: {_listed(v)}" for k, v in summary["filters"].items() if v)),
        ("requests replayed", requests["replayed"]),
        ("answered / failed", f"{requests['answered']} / {requests['failed']}"),
        ("all categorical outputs agree", requests["agreeing"]),
        ("captured failures (not replayed)", requests["captured_failures_skipped"]),
        ("answered from staging (not replayed)", requests["not_from_production_skipped"]),
    ]
    warnings = "".join(f'<p class="warn">⚠ {escape(w)}</p>' for w in summary["warnings"])
    return "<h1>Replay against staging</h1>" + verdict + "</p>" + warnings + _table(("", ""), rows)


def _models(summary: dict[str, Any]) -> str:
    rows = []
    for model, report in summary["models"].items():
        by = report["answered_by"]
        fields = "; ".join(
            f"{field} {_share(flips['agreement_rate'])}"
            for field, flips in report["categorical"].items()
        )
        rows.append(
            (
                model,
                ", ".join(by["captured"]) or "-",
                ", ".join(by["replayed"]) or "-",
                report["answers"],
                _share(report["agreement_rate"]),
                fields or "-",
            )
        )
    headers = ("model", "captured from", "replayed on", "answers", "agreement", "per output")
    return "<h2>Per model</h2>" + _table(headers, rows)


def _flips(summary: dict[str, Any]) -> str:
    parts = ["<h2>Flip matrices</h2><p>Rows: captured (production); columns: replayed.</p>"]
    for model, report in summary["models"].items():
        for field, flips in report["categorical"].items():
            name = summary["figures"]["flips"].get(model, {}).get(field)
            label = f"{model} · {field}: {flips['flipped']} of {flips['compared']} flipped"
            parts.append(f"<h3>{escape(label)}</h3>")
            if name:
                parts.append(_image(name, label))
    return "".join(parts)


def _changes(summary: dict[str, Any]) -> str:
    parts = ["<h2>Score changes</h2>"]
    for model, report in summary["models"].items():
        if not report["numeric"]:
            continue
        parts.append(f"<h3>{escape(model)}</h3>")
        if name := summary["figures"]["changes"].get(model):
            parts.append(_image(name, f"{model}: score changes"))
        rows = [
            (
                field,
                c["compared"],
                c["changed"],
                c["mean_change"],
                c["mean_abs_change"],
                c["max_abs_change"],
            )
            for field, c in report["numeric"].items()
        ]
        headers = ("output", "compared", "changed", "mean change", "mean |change|", "max |change|")
        parts.append(_table(headers, rows))
        largest = [
            (
                e["id"],
                e["request_id"],
                e["item"],
                e["field"],
                e["captured"],
                e["replayed"],
                e["change"],
            )
            for e in report["largest_changes"][:10]
        ]
        headers = ("row", "request id", "item", "output", "captured", "replayed", "change")
        parts.append("<p>Largest changes</p>" + _table(headers, largest))
    return "".join(parts)


def _changed_most(summary: dict[str, Any]) -> str:
    rows = []
    for entry in summary["changed_most"]:
        flips = "; ".join(
            f"{f['model']}.{f['field']}[{f['item']}] {f['captured']} → {f['replayed']}"
            for f in entry["flips"]
        )
        largest = entry["largest_change"]
        change = (
            f"{largest['model']}.{largest['field']}[{largest['item']}] {largest['change']:+.4f}"
            if largest
            else "-"
        )
        rows.append((entry["id"], entry["request_id"], entry["endpoint"], flips or "-", change))
    headers = ("row", "request id", "endpoint", "flipped", "largest score change")
    return "<h2>Requests that changed most</h2>" + _table(headers, rows)


def _failures(summary: dict[str, Any]) -> str:
    failures = summary["failures"]
    if not failures["by_status"]:
        return "<h2>Failed replays</h2><p>None.</p>"
    by_status = _table(("status", "requests"), list(failures["by_status"].items()))
    listed = [
        (f["id"], f["request_id"], f["endpoint"], f["status"] or "-", f["problem"] or "-")
        for f in failures["requests"]
    ]
    headers = ("row", "request id", "endpoint", "status", "problem")
    return "<h2>Failed replays</h2>" + by_status + _table(headers, listed)


def _latency(summary: dict[str, Any]) -> str:
    latency = summary["latency_ms"]
    parts = ["<h2>Latency (ms)</h2>"]
    if name := summary["figures"]["latency"]:
        parts.append(_image(name, "latency side by side"))
    rows = []
    for endpoint, side in [("all", latency["all"]), *latency["by_endpoint"].items()]:
        if side["requests"]:
            for percentile in side["captured"]:
                rows.append(
                    (
                        endpoint,
                        percentile,
                        side["captured"][percentile],
                        side["replayed"][percentile],
                    )
                )
    parts.append(_table(("endpoint", "percentile", "captured", "replayed"), rows))
    parts.append(
        "<p>Captured: measured by the service. Replayed: measured by the replay client, "
        "one request at a time.</p>"
    )
    return "".join(parts)


def _table(headers: tuple[str, ...], rows: list[tuple]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(name: str, alt: str) -> str:
    return f'<img src="{escape(name)}" alt="{escape(alt)}">'


def _listed(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _share(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"
