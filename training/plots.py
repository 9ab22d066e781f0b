"""Figures logged with training runs, drawn with a bundled CJK font so Chinese labels read."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib.resources import files

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
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
