"""Random baseline: uniform guess among a probe question's options.

Two versions:

* **expected** accuracy, exact: a uniform guess on a question with ``k`` options is right with
  probability ``1/k``, so a person's expected accuracy is the mean of ``1/k`` over the probes they
  answered, averaged over people (equations 1-2 of the study). This is what the study's polar
  Random row reports (46.37 / 45.51 / 44.23 on Table 12's setups).
* a seeded **draw**, one uniform option per (person, setup, form, probe); its RNG is a pure
  function of ``(seed, tag, person id)`` (uniforms indexed by setup, form and question), so it
  depends neither on row order nor on which setups or forms are run.
"""

from __future__ import annotations

import numpy as np

from ivr.catalog.codebook import FORMS
from ivr.catalog.store import Catalog
from ivr.metrics.predictions import Predictions
from ivr.protocol.sampling import person_rng

TAG_RANDOM = 11  # RNG stream tag of the random draw (distinct from the sampling module's tags)


def expected_accuracy(
    catalog: Catalog, rows: np.ndarray, setups: dict[int, np.ndarray], forms: tuple[str, ...] = FORMS
) -> dict[str, dict[int, float]]:
    """Exact expected accuracy (percent) of uniform guessing per form and setup.

    Args:
        catalog: the catalog (probe targets decide which probes are scored per person).
        rows: evaluation catalog rows.
        setups: setup number -> probe question indices.
        forms: forms to score.

    Returns:
        ``{form: {setup: percent}}``.
    """
    out: dict[str, dict[int, float]] = {}
    for form in forms:
        n_opt = np.asarray(catalog.codebook.n_options(form), dtype=np.float64)
        out[form] = {}
        for s, probes in setups.items():
            valid = catalog.answers(form)[np.ix_(rows, probes)] >= 0
            chance = np.where(valid, 1.0 / n_opt[probes][None, :], 0.0)
            n_scored = valid.sum(axis=1)
            keep = n_scored > 0  # people with no answered probe are not scored
            out[form][s] = float(100 * np.mean(chance[keep].sum(axis=1) / n_scored[keep]))
    return out


def codebook_expected_accuracy(n_options: list[int], probes: np.ndarray) -> float:
    """Expected accuracy (percent) for a person who answered every probe: mean of 1/k."""
    k = np.asarray(n_options, dtype=np.float64)[np.asarray(probes)]
    return float(100 * np.mean(1.0 / k))


def random_draw(
    catalog: Catalog,
    rows: np.ndarray,
    setups: dict[int, np.ndarray],
    seed: int,
    forms: tuple[str, ...] = FORMS,
) -> Predictions:
    """One seeded uniform guess per (person, setup, form, probe).

    Args:
        catalog: the catalog.
        rows: evaluation catalog rows.
        setups: setup number -> probe question indices.
        seed: the run seed.
        forms: forms to predict.

    Returns:
        Predictions over every (row, setup, form, probe), targets from the catalog.
    """
    parts = []
    n_setups = max(setups) + 1
    # one generator per person; uniforms laid out [setup, form, question] so a (setup, form)'s
    # draw does not depend on which other setups or forms are asked for
    shape = (n_setups, len(FORMS), len(catalog.codebook.questions))
    uniforms = np.stack([person_rng(seed, TAG_RANDOM, catalog.person_ids[r], 0, 0).random(shape) for r in rows])
    for form in forms:
        f = FORMS.index(form)
        n_opt = np.asarray(catalog.codebook.n_options(form), dtype=np.int64)
        for s, probes in setups.items():
            pred = (uniforms[:, s, f, probes] * n_opt[probes][None, :]).astype(np.int64)
            parts.append(Predictions.from_matrix(catalog, rows, s, form, probes, pred))
    return Predictions.concat(parts)
