"""Shannon evenness J' = H'/ln S of answer distributions (the study's evenness analysis).

H' = -sum_o p_o ln p_o over a question's options (0 ln 0 = 0) and S = the number of options the
question offers, chosen or not, so J' = 1 when every option is chosen equally often and 0 when
everyone gives the same answer.
"""

from __future__ import annotations

import numpy as np


def shannon_evenness(counts: np.ndarray, n_options: np.ndarray | int) -> np.ndarray:
    """J' = H'/ln S of count vectors.

    Args:
        counts: [..., O] answers per option (options beyond a question's S must be 0).
        n_options: S per distribution (broadcast against ``counts[..., 0]``).

    Returns:
        float [...] J' in [0, 1]; nan where there are no answers or S < 2.

    Raises:
        ValueError: negative counts, or counts at options beyond S.
    """
    counts = np.asarray(counts, dtype=np.float64)
    s = np.broadcast_to(np.asarray(n_options), counts.shape[:-1]).astype(np.int64)
    if (counts < 0).any():
        raise ValueError("answer counts must be >= 0")
    beyond = np.arange(counts.shape[-1]) >= s[..., None]
    if (counts[beyond] > 0).any():
        raise ValueError("answer counts found at option indices beyond the question's number of options")
    total = counts.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = counts / total[..., None]
        h = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=-1)
        j = h / np.log(s)
    return np.where((total > 0) & (s >= 2), j, np.nan)


def option_counts(answers: np.ndarray, width: int) -> np.ndarray:
    """[Q, width] answers per option of each question column (-1 = missing, not counted)."""
    q = answers.shape[1]
    valid = answers >= 0
    flat = (np.arange(q)[None, :] * width + np.where(valid, answers, 0))[valid]
    return np.bincount(flat, minlength=q * width).reshape(q, width).astype(np.float64)
