"""Calibration of per-option probabilities: Brier score and expected calibration error.

Probabilities come as a float [N, O] array, nan beyond a question's options; each row is
renormalised over its non-nan options (scorers that return softmax over the option labels are
already normalised). Rows without probabilities (all nan) or without a target are skipped.
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 15


def _usable(probs: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64)
    target = np.asarray(target, dtype=np.int64)
    ok = (target >= 0) & ~np.isnan(probs).all(axis=1)
    p = np.nan_to_num(probs[ok], nan=0.0)
    if (p < 0).any():
        raise ValueError("probabilities must be >= 0")
    total = p.sum(axis=1, keepdims=True)
    p = np.divide(p, total, out=np.zeros_like(p), where=total > 0)
    return p, target[ok]


def brier_score(probs: np.ndarray, target: np.ndarray) -> float:
    """Multi-class Brier score: mean over rows of sum over options of (p - onehot)^2 (0 is perfect, 2 worst)."""
    p, t = _usable(probs, target)
    if len(t) == 0:
        return float("nan")
    onehot = np.zeros_like(p)
    onehot[np.arange(len(t)), t] = 1.0
    return float(((p - onehot) ** 2).sum(axis=1).mean())


def expected_calibration_error(probs: np.ndarray, target: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """ECE over equal-width confidence bins (top-option probability), weighted by bin size.

    Bin k covers confidences in (k/n_bins, (k+1)/n_bins]; confidence 0 falls in the first bin.
    """
    p, t = _usable(probs, target)
    if len(t) == 0:
        return float("nan")
    conf = p.max(axis=1)
    hit = (p.argmax(axis=1) == t).astype(np.float64)
    bins = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    # sum over bins of |hits - confidence| / N == sum_b (n_b / N) |acc_b - conf_b|
    gap = np.abs(np.bincount(bins, weights=hit, minlength=n_bins) - np.bincount(bins, weights=conf, minlength=n_bins))
    return float(gap.sum() / len(t))
