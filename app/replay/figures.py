"""The report's pictures: flip matrices, score-change histograms, latency side by side."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from training.common.plots import use_cjk_font
from training.customers.tasks import CHANNEL_LEVELS, CHURN_RISK_LEVELS

# Scales drawn in their own order (低 → 极高) rather than in code-point order.
ORDERED_SCALES = (tuple(level for _bound, level in CHURN_RISK_LEVELS), CHANNEL_LEVELS)

CAPTURED_COLOUR, REPLAYED_COLOUR = "#4c72b0", "#dd8452"


def flip_matrix_figure(matrix: dict[str, dict[str, int]], title: str) -> Figure:
    """Counts from the captured value (rows) to the replayed one (columns); the diagonal agrees."""
    use_cjk_font()
    labels = _ordered(set(matrix) | {to for row in matrix.values() for to in row})
    counts = np.array([[matrix.get(a, {}).get(b, 0) for b in labels] for a in labels])
    size = max(4.5, 0.55 * len(labels) + 2.5)
    figure, axes = plt.subplots(figsize=(size, size * 0.85))
    off_diagonal = np.where(np.eye(len(labels), dtype=bool), 0, counts)
    axes.imshow(off_diagonal, cmap="Oranges")
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("replayed (staging)")
    axes.set_ylabel("captured (production)")
    axes.set_title(title)
    threshold = off_diagonal.max() / 2 if off_diagonal.size else 0
    for (row, column), count in np.ndenumerate(counts):
        colour = "white" if row != column and count > threshold else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    figure.tight_layout()
    return figure


def _ordered(labels: set[str]) -> list[str]:
    for scale in ORDERED_SCALES:
        if labels <= set(scale):
            return [level for level in scale if level in labels]
    return sorted(labels)


def change_histogram_figure(histogram: dict[str, list], title: str) -> Figure:
    """How many scores moved by how much (replayed minus captured)."""
    use_cjk_font()
    edges, counts = np.asarray(histogram["edges"]), np.asarray(histogram["counts"])
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.bar(
        edges[:-1],
        counts,
        width=np.diff(edges),
        align="edge",
        color=REPLAYED_COLOUR,
        edgecolor="white",
    )
    axes.axvline(0, color="grey", linestyle=":")
    axes.set_xlabel("change (replayed − captured)")
    axes.set_ylabel("outputs")
    axes.set_title(title)
    figure.tight_layout()
    return figure


def latency_figure(latency: dict[str, Any]) -> Figure:
    """p50 / p95 / p99 of captured and replayed latency, for all requests and per endpoint."""
    use_cjk_font()
    panels = [("all requests", latency["all"])] + list(latency["by_endpoint"].items())
    panels = [(name, side) for name, side in panels if side["requests"]]
    figure, axes_row = plt.subplots(
        1, max(len(panels), 1), figsize=(3.6 * max(len(panels), 1) + 0.5, 3.6), squeeze=False
    )
    for axes, (name, side) in zip(axes_row[0], panels):
        names = list(side["captured"])
        positions = np.arange(len(names))
        axes.bar(
            positions - 0.2,
            [side["captured"][n] for n in names],
            0.4,
            label="captured",
            color=CAPTURED_COLOUR,
        )
        axes.bar(
            positions + 0.2,
            [side["replayed"][n] for n in names],
            0.4,
            label="replayed",
            color=REPLAYED_COLOUR,
        )
        axes.set_xticks(positions, names)
        axes.set_ylabel("ms")
        axes.set_title(f"{name} ({side['requests']})", fontsize=9)
    handles, labels = axes_row[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    return figure
