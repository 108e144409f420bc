"""Score an elicitation: accuracy on the setup's probes after the first k asked questions.

A *sequence* is what a policy asked one person in one setup (question indices in asked order);
the person's demonstrations after k questions are the answered ones among its first k. Scorers turn
those demonstrations into :class:`ivr.metrics.Predictions` of every probe in both forms, which
:func:`ivr.metrics.evaluate_predictions` scores by the protocol (polar / refined accuracy per setup,
bootstrap intervals, per-group accuracy and sigma_INEQUITY):

* ``bayes`` -- the exact posterior's most probable option (synthetic catalogs), demonstrations read
  in the form the evaluation view gives each probe form (matched: polar probes, polar answers);
* ``reasoner`` -- a trained reasoner's prediction (:class:`ivr.elicit.reasoner.ReasonerPredictor`);
* ``resemble`` -- Resemble's top-cluster vote, people compared on their answered questions
  (:func:`baselines.elicit.resemble_scores`, imported lazily: the library never needs baselines).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ivr.catalog.store import Catalog
from ivr.protocol.conventions import demo_form_for
from ivr.elicit.state import PersonState
from ivr.metrics.predictions import FORM_NAMES, Predictions

SCORERS = ("bayes", "reasoner", "resemble")
FORMS = ("polar", "refined")


def answered_prefix(catalog: Catalog, rows: np.ndarray, sequences: list[list[int]], k: int) -> list[np.ndarray]:
    """Per person, the answered questions among the first ``k`` of its sequence."""
    refined = catalog.refined
    out = []
    for r, seq in zip(np.asarray(rows).tolist(), sequences):
        q = np.asarray(seq[:k], dtype=np.int64)
        out.append(q[refined[r, q] >= 0])
    return out


def bayes_scores(catalog: Catalog, model: Any, rows: np.ndarray, probes: np.ndarray, setup: int,
                 shown: list[np.ndarray], view: str = "matched") -> Predictions:
    """Predictions of the exact posterior given each person's ``shown`` questions."""
    parts = []
    for form in FORMS:
        demo_form = FORM_NAMES[demo_form_for(view, FORM_NAMES.index(form))]
        post = model.posterior(catalog, rows, shown, probes, form, demo_form=demo_form)
        n_opt = np.asarray(catalog.codebook.n_options(form))[probes]
        post = np.where(np.arange(post.shape[2])[None, None] < n_opt[None, :, None], post, np.nan)
        parts.append(Predictions.from_matrix(catalog, rows, setup, form, probes, np.nanargmax(post, axis=2), post))
    return Predictions.concat(parts)


def reasoner_scores(catalog: Catalog, predictor: Any, rows: np.ndarray, probes: np.ndarray, setup: int,
                    shown: list[np.ndarray]) -> Predictions:
    """Predictions of a trained reasoner shown each person's answered questions."""
    refined = catalog.refined
    n_q = len(catalog.codebook.questions)
    states = []
    for r, q in zip(np.asarray(rows).tolist(), shown):
        states.append(PersonState(n_q, probes, row=r, setup=setup, asked=q.tolist(),
                                  answers=refined[r, q].astype(np.int64).tolist()))
    parts = []
    for form in FORMS:
        probs = np.stack(predictor.predict(states, [probes] * len(states), form))  # [N, M, 8]
        pred = np.nanargmax(np.where(np.isnan(probs), -1.0, probs), axis=2)
        parts.append(Predictions.from_matrix(catalog, rows, setup, form, probes, pred, probs))
    return Predictions.concat(parts)
