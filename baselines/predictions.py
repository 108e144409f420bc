"""Turn per-person prediction matrices into :class:`ivr.metrics.Predictions` rows."""

from __future__ import annotations

import numpy as np

from ivr.catalog.codebook import FORMS
from ivr.catalog.store import Catalog
from ivr.metrics.predictions import Predictions


def matrix_predictions(
    catalog: Catalog, rows: np.ndarray, setup: int, form: str, probes: np.ndarray, pred: np.ndarray
) -> Predictions:
    """Predictions for a ``[len(rows), len(probes)]`` matrix of option indices.

    Args:
        catalog: the catalog the targets come from (-1 targets are left out of scoring by the metrics).
        rows: evaluation catalog rows.
        setup: the probe setup number.
        form: "polar" or "refined".
        probes: codebook indices of the setup's probe questions.
        pred: predicted option indices, shape [len(rows), len(probes)] (or broadcastable to it).

    Returns:
        One row per (person, probe), person-major.
    """
    rows = np.asarray(rows, dtype=np.int64)
    probes = np.asarray(probes, dtype=np.int64)
    e, k = len(rows), len(probes)
    pred = np.broadcast_to(np.asarray(pred), (e, k))
    return Predictions(
        person=np.repeat(rows, k), setup=np.full(e * k, setup), form=np.full(e * k, FORMS.index(form)),
        question=np.tile(probes, e), pred=pred.reshape(-1),
        target=catalog.answers(form)[np.ix_(rows, probes)].reshape(-1),
    )
