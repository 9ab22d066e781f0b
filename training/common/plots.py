"""Figures logged with training runs, drawn with a bundled CJK font so Chinese labels read."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib.resources import files

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

_CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"


@cache
def use_cjk_font() -> None:
    """Register the Noto Sans CJK font shipped by ``mplfonts`` and make it the default."""
    path = files("mplfonts") / "fonts" / _CJK_FONT_FILE
    font_manager.fontManager.addfont(str(path))
    name = font_manager.FontProperties(fname=str(path)).get_name()
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False


def confusion_matrix_figure(matrix: np.ndarray, labels: Sequence[str], title: str) -> Figure:
    """A confusion matrix with counts in the cells, rows true and columns predicted."""
    use_cjk_font()
    size = max(5.0, 0.55 * len(labels) + 2.5)
    figure, axes = plt.subplots(figsize=(size, size * 0.85))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("预测类别 (predicted)")
    axes.set_ylabel("真实类别 (true)")
    axes.set_title(title)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), count in np.ndenumerate(matrix):
        colour = "white" if count > threshold else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    figure.tight_layout()
    return figure


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], title: str) -> Figure:
    """ROC curves: label -> (false positive rates, true positive rates, AUC)."""
    use_cjk_font()
    figure, axes = plt.subplots(figsize=(5.5, 5))
    for label, (fpr, tpr, auc) in curves.items():
        axes.plot(fpr, tpr, label=f"{label} (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.set_title(title)
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def calibration_figure(predicted: np.ndarray, observed: np.ndarray, title: str) -> Figure:
    """Observed rate against mean predicted probability, per probability bin."""
    use_cjk_font()
    figure, axes = plt.subplots(figsize=(5.5, 5))
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    axes.plot(predicted, observed, marker="o", label="model")
    axes.set_xlabel("mean predicted probability")
    axes.set_ylabel("observed rate")
    axes.set_title(title)
    axes.legend(loc="upper left")
    figure.tight_layout()
    return figure


def level_share_figure(shares: pd.DataFrame, title: str) -> Figure:
    """Stacked bars: for each row (a channel), the share of customers at each level (columns)."""
    use_cjk_font()
    figure, axes = plt.subplots(figsize=(7.5, 0.5 * len(shares) + 2))
    left = np.zeros(len(shares))
    colours = plt.cm.RdYlGn(np.linspace(0.1, 0.9, len(shares.columns)))
    for colour, level in zip(colours, shares.columns):
        values = shares[level].to_numpy()
        axes.barh(shares.index, values, left=left, color=colour, label=level)
        left += values
    axes.set_xlim(0, 1)
    axes.set_xlabel("share of customers")
    axes.set_title(title)
    axes.legend(
        ncol=len(shares.columns), loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=8
    )
    figure.tight_layout()
    return figure


def selection_figure(table: pd.DataFrame, *, scoring: str, folds: int, title: str) -> Figure:
    """Each candidate's mean cross-validated score (bar, with its standard deviation) and mean
    fit time (written beside it), the winner on top and highlighted."""
    use_cjk_font()
    figure, axes = plt.subplots(figsize=(7.5, 0.4 * len(table) + 1.8))
    rows = np.arange(len(table))[::-1]  # best on top
    colours = ["tab:green"] + ["tab:grey"] * (len(table) - 1)
    axes.barh(rows, table["score"], xerr=table["score_std"], color=colours, capsize=3)
    axes.set_yticks(rows, table["candidate"])
    low = float((table["score"] - table["score_std"]).min())
    axes.set_xlim(max(0.0, low - 0.02), min(1.0, float(table["score"].max()) + 0.03))
    for row, score, seconds in zip(rows, table["score"], table["fit_seconds"]):
        axes.text(score, row, f" {score:.4f} ({seconds:.1f} s/fit)", va="center", fontsize=8)
    axes.set_xlabel(f"mean {folds}-fold {scoring} on the training split")
    axes.set_title(title)
    figure.tight_layout()
    return figure
