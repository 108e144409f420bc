"""The one predictor interface every method of the tables implements.

A predictor is fitted once on the training people (:meth:`Predictor.fit`, a no-op for methods that do
not learn) and then, for each evaluation view's :class:`ivr.predict.examples.PreparedExamples`, returns
option probabilities for every (setup, probe form) (:meth:`Predictor.predict_proba`), reading an
evaluated person's answers only through ``examples.shown_answers``. The shared path
(:func:`ivr.predict.runner.run_predictors`) times both calls in CPU-seconds and scores the result.

A method whose decision rule is not the argmax of its probabilities (Resemble's nearer-neighbour tie
rule, Global majority's lowest-index tie rule) returns that decision as ``choice``; otherwise the path
takes the argmax (lowest option index on ties).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from ivr.predict.examples import PreparedExamples, TrainView


@dataclass
class ProbeOutput:
    """A predictor's answer for one (setup, probe form).

    Attributes:
        probs: float [E, K, O] option probabilities (nan beyond a question's options), or None for a method
            that only decides.
        choice: int [E, K] the chosen option index (None = argmax of ``probs``).
    """

    probs: np.ndarray | None = None
    choice: np.ndarray | None = None

    def decided(self) -> np.ndarray:
        """The chosen option per (person, probe)."""
        if self.choice is not None:
            return np.asarray(self.choice)
        if self.probs is None:
            raise ValueError("a ProbeOutput needs probs or choice")
        return np.nanargmax(np.where(np.isnan(self.probs), -np.inf, self.probs), axis=2)


#: (setup, probe form) -> output
Outputs = dict[tuple[int, str], ProbeOutput]


class Predictor(ABC):
    """One row of a table.

    Attributes:
        name: the row's name.
        reads: what of an evaluated person the method reads: ``"shown"`` (only the shown demonstrations,
            the protocol; the default) or ``"non_probe"`` (every answer outside the setup's probes: the
            study's Resemble), named in the tables' header.
        view_free: the prediction does not depend on the evaluation view (Global majority): scored on the
            first view only.
    """

    name: str = ""
    reads: str = "shown"
    view_free: bool = False

    def accepts(self, view: str) -> bool:
        """Whether this predictor has a row for ``view`` (every view by default)."""
        return True

    def fit(self, train: TrainView) -> None:
        """Learn from the training people (nothing for a method that does not learn)."""

    @abstractmethod
    def predict_proba(self, examples: PreparedExamples) -> Outputs:
        """Option probabilities (and the decision) for every (setup, probe form) of ``examples``."""

    def describe(self) -> dict[str, Any]:
        """Settings worth recording beside the row (JSON-ready)."""
        return {}


class FixedPredictor(Predictor):
    """Predictions made elsewhere (a trained checkpoint or zero-shot model run through the data module's
    token pipeline, which carries generation and packing this interface does not): the path scores them on
    the same people as every other row, and refuses them when they cover other people.

    Args:
        name: the row name.
        predictions: view -> ``ivr.metrics.Predictions`` on the examples' people.
        cpu_seconds: the CPU-seconds they took (reported as the predict time), when known.
    """

    def __init__(self, name: str, predictions: dict[str, Any], cpu_seconds: float | None = None) -> None:
        self.name = name
        self.predictions = predictions
        self.cpu_seconds = cpu_seconds

    def accepts(self, view: str) -> bool:
        return view in self.predictions

    def predict_proba(self, examples: PreparedExamples) -> Any:
        preds = self.predictions[examples.view]
        people = np.unique(preds.person)
        if not np.array_equal(people, np.unique(examples.rows)):
            raise ValueError(
                f"{self.name}: its predictions cover {len(people)} people, the examples "
                f"{examples.n_people}: every row must be scored on the same people"
            )
        return preds
