"""The drift statistics, in numpy: a reference's bins and shares, and how far a sample is from
them (population stability index for binned numbers, Jensen-Shannon for categories).

Shares are smoothed by ``EPSILON`` before a logarithm, so an empty bin on either side counts as
a large shift, not an infinite one.
"""

from __future__ import annotations

import numpy as np

EPSILON = 1e-4
DEFAULT_BINS = 10


def quantile_edges(values: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Inner bin edges at the quantiles of the finite ``values`` (duplicates merged), so each
    bin holds about as many reference values; the outer bins are open."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return np.array([], dtype=float)
    inner = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(inner)


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of ``values`` in each of the ``len(edges) + 1`` bins, then the share missing
    (NaN), as one vector that sums to 1 (all zeros for no values)."""
    values = np.asarray(values, dtype=float)
    missing = ~np.isfinite(values)
    counts = np.bincount(
        np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1
    )
    counts = np.append(counts, missing.sum()).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def category_shares(values, categories: list[str]) -> np.ndarray:
    """The share of each of ``categories`` among ``values``, then the share of any other."""
    values = np.asarray(values, dtype=object)
    counts = np.array([(values == c).sum() for c in categories], dtype=float)
    counts = np.append(counts, len(values) - counts.sum())
    return counts / counts.sum() if counts.sum() else counts


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index between two share vectors over the same bins."""
    p, q = _smoothed(reference), _smoothed(current)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, so between 0 and 1) between two share vectors."""
    p, q = _smoothed(reference), _smoothed(current)
    m = (p + q) / 2
    return float((np.sum(p * np.log2(p / m)) + np.sum(q * np.log2(q / m))) / 2)


def _smoothed(shares: np.ndarray) -> np.ndarray:
    shares = np.asarray(shares, dtype=float) + EPSILON
    return shares / shares.sum()
