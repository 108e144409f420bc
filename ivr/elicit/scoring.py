"""Score an elicitation: accuracy on the setup's probes after the first k asked questions.

A *sequence* is what a policy asked one person in one setup (question indices in asked order);
the person's demonstrations after k questions are the answered ones among its first k
(:func:`answered_prefix`). They become the shown demonstrations of
:func:`ivr.predict.examples.given_demos`, and every scorer is a :class:`ivr.predict.Predictor` run
through :func:`ivr.predict.run_predictors` on them (polar / refined accuracy per setup, bootstrap
intervals, per-group accuracy and sigma_INEQUITY):

* ``bayes`` -- the exact posterior's most probable option (:class:`ivr.predict.bayes.BayesCeiling`;
  synthetic catalogs), demonstrations read in the form the evaluation view gives each probe form;
* ``reasoner`` -- a trained reasoner's prediction (:class:`ReasonerScorer` over
  :class:`ivr.elicit.reasoner.ReasonerPredictor`);
* ``resemble`` -- Resemble's top-cluster vote, people compared on their shown questions
  (``baselines.predictors.Resemble`` with ``features="shown"``, imported lazily: the library never
  needs baselines).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ivr.catalog.store import Catalog
from ivr.elicit.state import PersonState
from ivr.predict import Outputs, Predictor, PreparedExamples, ProbeOutput

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


class ReasonerScorer(Predictor):
    """A trained reasoner (:class:`ivr.elicit.reasoner.ReasonerPredictor`) shown each person's shown
    questions of the examples (the answered ones among the first k asked), as a table row."""

    def __init__(self, predictor: Any, name: str = "reasoner") -> None:
        self.predictor, self.name = predictor, name

    def predict_proba(self, examples: PreparedExamples) -> Outputs:
        catalog = examples.catalog
        refined = catalog.refined
        n_q = len(catalog.codebook.questions)
        out: Outputs = {}
        for s, probes in examples.setups.items():
            states = [
                PersonState(
                    n_q, probes, row=r, setup=s, asked=q.tolist(), answers=refined[r, q].astype(np.int64).tolist()
                )
                for r, q in zip(examples.rows.tolist(), examples.demos[s])
            ]
            for form in FORMS:
                probs = np.stack(self.predictor.predict(states, [probes] * len(states), form))  # [N, M, 8]
                out[(s, form)] = ProbeOutput(probs, np.nanargmax(np.where(np.isnan(probs), -1.0, probs), axis=2))
        return out
