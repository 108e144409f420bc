"""Scalar summaries shared by ``ValueMetrics`` and plain-Python evaluation (no torch needed)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ivr.catalog.store import Catalog
from ivr.errors import ConfigError
from ivr.metrics.calibration import brier_score, expected_calibration_error
from ivr.metrics.inequity import group_accuracy, inequity_index
from ivr.metrics.predictions import FORM_NAMES, Predictions
from ivr.metrics.scores import accuracy_table, flat_summary, person_scores


def catalog_groups(catalog: Catalog, dimensions: list[str] | None = None) -> dict[str, np.ndarray]:
    """Dimension -> group label per catalog row (None missing).

    Args:
        catalog: the catalog.
        dimensions: dimension names; default every dimension the codebook defines.

    Raises:
        ValueError: a dimension the codebook does not define.
    """
    defined = list(catalog.codebook.dimensions)
    dims = defined if dimensions is None else list(dimensions)
    unknown = [d for d in dims if d not in catalog.codebook.dimensions]
    if unknown:
        raise ConfigError(
            f"demographic dimension(s) {unknown} are not defined by codebook {catalog.codebook.name!r}; "
            f"defined: {defined}"
        )
    return {d: catalog.groups(d) for d in dims}


def summarize(
    preds: Predictions,
    groups: Mapping[str, np.ndarray] | None = None,
    min_group_size: int = 1,
) -> dict[str, float]:
    """Scalar metrics of a set of predictions.

    Returns:
        ``polar/p<s>``, ``polar_avg``, ``refined/p<s>``, ``refined_avg``, ``all`` (percent),
        ``n_people``, ``n_scored``, ``n_unscored`` (unanswered probes), ``n_parse_failures``
        (scored rows with pred -1), and when available ``inequity/<form>``, ``brier/<form>``,
        ``ece/<form>``.
    """
    preds = preds.canonical()
    scores = person_scores(preds)
    out = flat_summary(accuracy_table(scores))
    scored = preds.target >= 0
    out.update(
        n_people=float(len(np.unique(scores.person))),
        n_scored=float(scored.sum()),
        n_unscored=float((~scored).sum()),
        n_parse_failures=float((scored & (preds.pred < 0)).sum()),
    )
    for f in np.unique(scores.form):
        name = FORM_NAMES[int(f)]
        if groups:
            per_group = {d: group_accuracy(scores, labels, int(f), min_group_size)[0] for d, labels in groups.items()}
            out[f"inequity/{name}"] = inequity_index(per_group)[0]
        if preds.probs is not None:
            sel = preds.form == f
            out[f"brier/{name}"] = brier_score(preds.probs[sel], preds.target[sel])
            out[f"ece/{name}"] = expected_calibration_error(preds.probs[sel], preds.target[sel])
    return out
