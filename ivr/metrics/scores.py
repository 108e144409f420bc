"""Per-person accuracy (equations 1-2 of the study) and the Table 3 layout.

A person's accuracy for one (setup, form) is the mean over the probes they answered (probes with
target -1 are not scored; a prediction of -1 is scored wrong). The accuracy of a (setup, form)
is the mean of the person accuracies; a form's average is the mean over setups; ``all`` is the
mean of the polar and refined averages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ivr.metrics.predictions import FORM_NAMES, Predictions


@dataclass
class PersonScores:
    """One entry per (person, setup, form) with at least one scored probe, sorted by that key.

    Attributes:
        person, setup, form: the key arrays.
        correct: correct predictions among the scored probes.
        n: scored probes.
    """

    person: np.ndarray
    setup: np.ndarray
    form: np.ndarray
    correct: np.ndarray
    n: np.ndarray

    @property
    def acc(self) -> np.ndarray:
        """Accuracy in [0, 1] per entry."""
        return self.correct / self.n

    def select(self, mask: np.ndarray) -> PersonScores:
        return PersonScores(self.person[mask], self.setup[mask], self.form[mask], self.correct[mask], self.n[mask])


def is_correct(preds: Predictions) -> np.ndarray:
    """Per row: the prediction is a real option and equals the target."""
    return (preds.pred >= 0) & (preds.pred == preds.target)


def person_scores(preds: Predictions, mask: np.ndarray | None = None) -> PersonScores:
    """Per (person, setup, form) counts over the scored rows of ``preds`` (optionally masked).

    Args:
        preds: predictions; rows with target -1 are left out.
        mask: optional extra row filter (e.g. one category).
    """
    keep = preds.target >= 0
    if mask is not None:
        keep &= mask
    key = np.stack([preds.person[keep], preds.setup[keep], preds.form[keep]], axis=1)
    if len(key) == 0:
        z = np.zeros(0, dtype=np.int64)
        return PersonScores(z, z, z, z, z)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    correct = np.bincount(inv, weights=is_correct(preds)[keep], minlength=len(uniq)).astype(np.int64)
    n = np.bincount(inv, minlength=len(uniq)).astype(np.int64)
    return PersonScores(uniq[:, 0], uniq[:, 1], uniq[:, 2], correct, n)


def accuracy_table(scores: PersonScores) -> dict[tuple[int, int], float]:
    """(form, setup) -> accuracy in percent: mean over people of their accuracy.

    The sum over people is exactly rounded (``math.fsum``), so the figure does not depend on the order
    of the people (a catalog's row order) down to the last bit.
    """
    out: dict[tuple[int, int], float] = {}
    acc = scores.acc
    for f in np.unique(scores.form):
        for s in np.unique(scores.setup[scores.form == f]):
            sel = (scores.form == f) & (scores.setup == s)
            out[(int(f), int(s))] = math.fsum(acc[sel].tolist()) / int(sel.sum()) * 100
    return out


def table3_row(table: dict[tuple[int, int], float], setups: list[int] | None = None) -> dict[str, object]:
    """The study's Table 3 layout from an accuracy table.

    Returns:
        ``{"polar": [p0, p1, p2], "polar_avg", "refined": [...], "refined_avg", "all"}`` in percent;
        a missing (form, setup) is None, an average over incomplete setups is None, and ``all`` is
        None unless both forms are complete.
    """
    if setups is None:
        setups = sorted({s for _, s in table})
    row: dict[str, object] = {}
    for f, name in enumerate(FORM_NAMES):
        vals = [table.get((f, s)) for s in setups]
        row[name] = vals
        row[f"{name}_avg"] = float(np.mean(vals)) if vals and all(v is not None for v in vals) else None
    both = [row["polar_avg"], row["refined_avg"]]
    row["all"] = float(np.mean(both)) if all(v is not None for v in both) else None
    return row


def flat_summary(table: dict[tuple[int, int], float], setups: list[int] | None = None) -> dict[str, float]:
    """Scalar dict (``polar/p0`` ... ``polar_avg`` ... ``all``), leaving out missing entries."""
    row = table3_row(table, setups)
    setups = sorted({s for _, s in table}) if setups is None else setups
    out: dict[str, float] = {}
    for name in FORM_NAMES:
        for s, v in zip(setups, row[name]):  # type: ignore[arg-type]
            if v is not None:
                out[f"{name}/p{s}"] = v
        if row[f"{name}_avg"] is not None:
            out[f"{name}_avg"] = row[f"{name}_avg"]  # type: ignore[assignment]
    if row["all"] is not None:
        out["all"] = row["all"]  # type: ignore[assignment]
    return out
