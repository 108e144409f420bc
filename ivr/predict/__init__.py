"""One predictor interface and one evaluation path for every row of every table.

* :mod:`ivr.predict.examples` -- the protocol's evaluation examples prepared once (people, setups, shown
  demonstrations, tie keys) and the training view;
* :mod:`ivr.predict.base` -- :class:`Predictor` (``fit(train)``, ``predict_proba(examples)``);
* :mod:`ivr.predict.runner` -- :func:`run_predictors`: every predictor on the same prepared examples,
  scored by :func:`ivr.metrics.evaluate_predictions`, timed in CPU-seconds, with ``n`` in every header;
* :mod:`ivr.predict.bayes` -- the synthetic population's exact posterior: the Bayes ceiling row and the
  one-answer-at-a-time posterior of the elicitation (imported on demand);
* :mod:`ivr.predict.report` -- the Table-3 report ``ivr.fit`` and ``ivr.evaluate`` print and write (imported
  on its own: ``from ivr.predict.report import report_run``).

The statistical predictors live in ``baselines/`` (imported inside functions only, CONTRACTS.md §1).
"""

from ivr.predict.base import FixedPredictor, Outputs, Predictor, ProbeOutput
from ivr.predict.examples import PEOPLE, PreparedExamples, TrainView, from_datamodule, given_demos, prepare
from ivr.predict.runner import ScoredRow, people_header, run_predictors, table_json_row

__all__ = [
    "PEOPLE",
    "FixedPredictor",
    "Outputs",
    "PreparedExamples",
    "Predictor",
    "ProbeOutput",
    "ScoredRow",
    "TrainView",
    "from_datamodule",
    "given_demos",
    "people_header",
    "prepare",
    "run_predictors",
    "table_json_row",
]
