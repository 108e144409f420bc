"""Protocol metrics: accuracy (eqs. 1-2), per-group accuracy, sigma_INEQUITY, bootstrap CIs, calibration.

``ValueMetrics`` (the torchmetrics ``Metric``) is imported lazily so that numpy-only users
(baselines, reports) do not pay for importing torch.
"""

from typing import Any

from ivr.metrics.bootstrap import bootstrap_ci
from ivr.metrics.calibration import brier_score, expected_calibration_error
from ivr.metrics.inequity import group_accuracy, inequity_index, sample_std
from ivr.metrics.predictions import FORM_NAMES, Predictions
from ivr.metrics.report import Report, evaluate_predictions, plot_per_group
from ivr.metrics.scores import PersonScores, accuracy_table, person_scores, table3_row
from ivr.metrics.summary import catalog_groups, summarize

__all__ = [
    "FORM_NAMES",
    "PersonScores",
    "Predictions",
    "Report",
    "ValueMetrics",
    "accuracy_table",
    "bootstrap_ci",
    "brier_score",
    "catalog_groups",
    "evaluate_predictions",
    "expected_calibration_error",
    "group_accuracy",
    "inequity_index",
    "person_scores",
    "plot_per_group",
    "sample_std",
    "summarize",
    "table3_row",
]


def __getattr__(name: str) -> Any:
    if name == "ValueMetrics":
        from ivr.metrics.accuracy import ValueMetrics

        return ValueMetrics
    raise AttributeError(f"module 'ivr.metrics' has no attribute {name!r}")
