"""The drift report: ``drift.json`` for machines, ``drift.html`` (pictures inside, as base64
PNGs) for people. Shares, bins and indices only: never a text or a customer's value."""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import orjson
from matplotlib.figure import Figure

from app.drift.comparison import STABLE
from training.common.plots import use_cjk_font

JSON_NAME, HTML_NAME = "drift.json", "drift.html"
REFERENCE_COLOUR, CURRENT_COLOUR = "#4c72b0", "#dd8452"


def write_drift_report(summary: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    """Write ``drift.json`` and ``drift.html`` into ``directory``; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    data, page = directory / JSON_NAME, directory / HTML_NAME
    data.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    page.write_text(drift_page(summary), encoding="utf-8")
    return data, page


def drift_page(summary: dict[str, Any]) -> str:
    thresholds = summary["thresholds"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Drift</title>",
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left}"
        ".shift{color:#b00;font-weight:bold}.watch{color:#b60}</style></head><body>",
        "<h1>Drift of production traffic from the reference profiles</h1>",
        f"<p>Window: since {escape(str(summary['window']['since']))}, until "
        f"{escape(str(summary['window']['until']))}. PSI above {thresholds['shift']}: shift; "
        f"{thresholds['watch']} to {thresholds['shift']}: watch; below {thresholds['watch']}: "
        f"stable. Exit status non-zero above --max-psi {thresholds['max_psi']}.</p>",
    ]
    parts += [f"<p>{escape(item['problem'])}</p>" for item in summary["without_profile"]]
    for version in summary["versions"]:
        parts.append(_version_section(version))
    return "".join(parts) + "</body></html>"


def _version_section(version: dict[str, Any]) -> str:
    title = f"{version['model']} version {version['version']}"
    parts = [f"<h2>{escape(title)}</h2><p>{version['items']} items answered in the window.</p>"]
    if "oov_rate" in version:
        rates = version["oov_rate"]
        parts.append(
            f"<p>Out-of-vocabulary rate: {_share(rates['current'])} now, "
            f"{_share(rates['reference'])} at training.</p>"
        )
    rows = "".join(
        f"<tr class='{s['flag']}'><td>{s['group']}</td><td>{escape(s['name'])}</td>"
        f"<td>{s['psi']:.4f}</td><td>{_number(s['jensen_shannon'])}</td><td>{s['flag']}</td>"
        f"<td>{s['observed']}</td></tr>"
        for s in sorted(version["shifts"], key=lambda s: -s["psi"])
    )
    parts.append(
        "<table><tr><th>kind</th><th>name</th><th>PSI</th><th>Jensen-Shannon</th><th>flag</th>"
        f"<th>values</th></tr>{rows}</table>"
    )
    for shift in version["shifts"]:
        if shift["flag"] != STABLE:  # the table holds the rest
            figure = shares_figure(shift, f"{version['model']}: {shift['name']}")
            parts.append(f"<img alt='{escape(shift['name'])}' src='{_png(figure)}'>")
    return "".join(parts)


def shares_figure(shift: dict[str, Any], title: str) -> Figure:
    """Reference and current shares side by side, per bin or category."""
    use_cjk_font()
    positions = np.arange(len(shift["bins"]))
    figure, axes = plt.subplots(figsize=(max(4.0, 0.5 * len(positions) + 1.5), 2.8))
    axes.bar(positions - 0.2, shift["reference"], 0.4, label="reference", color=REFERENCE_COLOUR)
    axes.bar(positions + 0.2, shift["current"], 0.4, label="now", color=CURRENT_COLOUR)
    axes.set_xticks(positions, shift["bins"], rotation=45, ha="right", fontsize=7)
    axes.set_ylabel("share")
    axes.set_title(f"{title} (PSI {shift['psi']:.3f}, {shift['flag']})", fontsize=9)
    axes.legend(fontsize=7)
    figure.tight_layout()
    return figure


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _share(rate: float | None) -> str:
    return "n/a" if rate is None or rate != rate else f"{rate:.1%}"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
