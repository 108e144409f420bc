"""Per-group accuracy and the Value Inequity Index (sigma_INEQUITY).

As in the study (pipeline notes, section 8): for a demographic dimension, people are grouped by
their group label (missing values excluded); every person contributes one accuracy per setup;
a group's accuracy is the mean of its members' entries, in percent. The dimension's sigma is the
*sample* standard deviation (ddof=1) of the group accuracies, every group weighted equally however
small. sigma_INEQUITY is the mean of sigma over dimensions (dimensions with fewer than two groups
have no sigma and are left out of the mean).

``min_group_size`` (default 1 = off, the study's behaviour) drops groups with fewer people than
that from sigma, to keep one-person groups (small countries) from dominating.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ivr.metrics.scores import PersonScores


def group_accuracy(
    scores: PersonScores,
    labels: np.ndarray,
    form: int,
    min_group_size: int = 1,
) -> tuple[dict[str, float], dict[str, int]]:
    """Accuracy per group for one form.

    Args:
        scores: per (person, setup, form) scores.
        labels: group label per catalog row (None = missing), indexed by ``scores.person``.
        form: 0 polar, 1 refined.
        min_group_size: groups with fewer distinct people are left out.

    Returns:
        (group -> accuracy in percent, group -> number of people), groups in sorted order.
    """
    sel = scores.form == form
    person, acc = scores.person[sel], scores.acc[sel]
    lab = np.asarray(labels, dtype=object)[person]
    present = np.array([v is not None for v in lab], dtype=bool)
    accs: dict[str, float] = {}
    sizes: dict[str, int] = {}
    if not present.any():
        return accs, sizes
    names, inv = np.unique(lab[present].astype(str), return_inverse=True)
    sums = np.bincount(inv, weights=acc[present], minlength=len(names))
    counts = np.bincount(inv, minlength=len(names))
    for k, name in enumerate(names):
        n_people = len(np.unique(person[present][inv == k]))
        if n_people >= min_group_size:
            accs[str(name)] = float(sums[k] / counts[k] * 100)
            sizes[str(name)] = int(n_people)
    return accs, sizes


def sample_std(values: np.ndarray) -> float:
    """Sample standard deviation (ddof=1) ignoring nan; nan with fewer than two values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    return float(np.std(v, ddof=1)) if len(v) >= 2 else float("nan")


def inequity_index(per_group: Mapping[str, Mapping[str, float]]) -> tuple[float, dict[str, float]]:
    """sigma_INEQUITY from per-group accuracies.

    Args:
        per_group: dimension -> {group: accuracy in percent}.

    Returns:
        (mean sigma over dimensions that have one, dimension -> sigma (nan if < 2 groups)).
    """
    per_dim = {dim: sample_std(np.array(list(groups.values()), dtype=np.float64)) for dim, groups in per_group.items()}
    vals = np.array([v for v in per_dim.values() if not np.isnan(v)])
    return (float(vals.mean()) if len(vals) else float("nan")), per_dim
