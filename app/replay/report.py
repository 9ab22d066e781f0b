"""Writing a replay's report: ``report.json`` for machines, ``index.html`` and PNGs for people."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import orjson
from matplotlib.figure import Figure

from app.replay.figures import change_histogram_figure, flip_matrix_figure, latency_figure
from app.replay.page import report_page

JSON_NAME, HTML_NAME = "report.json", "index.html"


def write_report(summary: dict[str, Any], directory: Path) -> Path:
    """Draw the pictures, then write the JSON and the page into ``directory``; the page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    summary = {**summary, "figures": _draw_figures(summary, directory)}
    (directory / JSON_NAME).write_bytes(
        orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    )
    page = directory / HTML_NAME
    page.write_text(report_page(summary), encoding="utf-8")
    return page


def _draw_figures(summary: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Each picture's file name, by what it shows: flips and changes per model, latency."""
    figures: dict[str, Any] = {"flips": {}, "changes": {}, "latency": None}
    for m, (model, report) in enumerate(summary["models"].items()):
        for f, (field, flips) in enumerate(report["categorical"].items()):
            if flips["flipped"]:
                name = f"flips-{m}-{f}.png"
                _save(flip_matrix_figure(flips["matrix"], f"{model}: {field}"), directory / name)
                figures["flips"].setdefault(model, {})[field] = name
        if report["change_histogram"] is not None:
            name = f"changes-{m}.png"
            title = f"{model}: score changes"
            _save(change_histogram_figure(report["change_histogram"], title), directory / name)
            figures["changes"][model] = name
    if summary["latency_ms"]["all"]["requests"]:
        figures["latency"] = "latency.png"
        _save(latency_figure(summary["latency_ms"]), directory / figures["latency"])
    return figures


def _save(figure: Figure, path: Path) -> None:
    figure.savefig(path, dpi=100)
    plt.close(figure)
