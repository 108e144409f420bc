"""The one evaluation path: every predictor on the same prepared examples, scored and timed.

:func:`run_predictors` fits each predictor once on the training view, asks it for every view's
examples, turns its outputs into ``ivr.metrics.Predictions`` and scores them with
:func:`ivr.metrics.evaluate_predictions` (the same people, setups, forms and bootstrap for every row).
Fit and predict are timed in CPU-seconds of this process (``time.process_time``: every thread of it,
scoring excluded).

Every table row written as JSON (``table.json`` of ``ivr.fit``, ``ivr.evaluate`` and ``baselines``) has
the form :func:`table_json_row` documents.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ivr.metrics import Predictions, Report, evaluate_predictions
from ivr.predict.base import Predictor
from ivr.predict.examples import PreparedExamples
from ivr.protocol.conventions import row_name

CI_KEYS = ("polar_avg", "refined_avg", "all")


@dataclass
class ScoredRow:
    """One scored table row.

    Attributes:
        name: the row's name (``name [view]`` for a later view).
        report: the metrics report.
        predictions: the scored predictions.
        n_people: the people scored.
        fit_cpu_s, predict_cpu_s: CPU-seconds of ``fit`` (shared by the views: counted on the first view's row)
            and of ``predict_proba`` for this view.
        reads: what of an evaluated person the method read (``"shown"`` or ``"non_probe"``).
    """

    name: str
    report: Report
    predictions: Predictions
    n_people: int
    fit_cpu_s: float
    predict_cpu_s: float
    reads: str = "shown"

    @property
    def cpu_seconds(self) -> float:
        return self.fit_cpu_s + self.predict_cpu_s


def table_json_row(scored: ScoredRow) -> dict[str, Any]:
    """A row of ``table.json``: ``polar`` / ``refined`` (per setup, percent), ``polar_avg``, ``refined_avg``,
    ``all``, ``ci`` ({``polar_avg``, ``refined_avg``, ``all``} -> [low, high] 95% bootstrap interval, when
    bootstrapped), ``n`` (people scored), ``cpu_seconds`` (fit + predict; None when not measured, e.g. a
    reasoner scored from predictions made elsewhere), ``fit_cpu_seconds``, ``predict_cpu_seconds``."""
    row = dict(scored.report.table3_row())
    ci = {k: list(scored.report.ci[k]) for k in CI_KEYS if scored.report.ci.get(k)}
    if ci:
        row["ci"] = ci
    known = not (np.isnan(scored.fit_cpu_s) or np.isnan(scored.predict_cpu_s))
    row.update(
        n=scored.n_people,
        cpu_seconds=round(scored.cpu_seconds, 3) if known else None,
        fit_cpu_seconds=None if np.isnan(scored.fit_cpu_s) else round(scored.fit_cpu_s, 3),
        predict_cpu_seconds=None if np.isnan(scored.predict_cpu_s) else round(scored.predict_cpu_s, 3),
    )
    return row


def to_predictions(outputs: Any, examples: PreparedExamples) -> Predictions:
    """A predictor's outputs (or ready ``Predictions``) as ``Predictions`` on the examples' people."""
    if isinstance(outputs, Predictions):
        return outputs
    parts = []
    for s, form in examples.pairs():
        if (s, form) not in outputs:
            continue
        out = outputs[(s, form)]
        parts.append(
            Predictions.from_matrix(
                examples.catalog, examples.rows, s, form, examples.setups[s], out.decided(), out.probs
            )
        )
    return Predictions.concat(parts)


def people_header(examples: PreparedExamples, limit: int | None = None) -> str:
    """``n = 100 people (the split's test half; ...)``: the line every table prints above its rows."""
    which = {
        "test": "the split's test half: the people ivr.fit and ivr.evaluate score",
        "val": "the split's validation half",
    }.get(examples.people, "every evaluation person: the split's test and validation halves")
    cut = f"; the first {limit} of each half (--data.limit_eval_people)" if limit is not None else ""
    return f"n = {examples.n_people} people ({which}{cut}); every row is scored on these people"


def run_predictors(
    predictors: Sequence[Predictor],
    examples: PreparedExamples | Mapping[str, PreparedExamples],
    bootstrap: int = 0,
    seed: int = 0,
    dimensions: list[str] | None = None,
    log: Any = None,
    min_group_size: int = 1,
) -> dict[str, ScoredRow]:
    """Fit, predict and score every predictor on the same examples.

    Args:
        predictors: the rows, in table order.
        examples: one view's examples, or view -> examples (a later view's rows are named ``name [view]``);
            every view must hold the same people.
        bootstrap: bootstrap resamples of people for the intervals (0 = none).
        seed: the bootstrap seed.
        dimensions: demographic dimensions of the per-group figures (None = all the codebook defines).
        log: a callable given one progress line per predictor (None = quiet).
        min_group_size: groups smaller than this are left out of sigma_INEQUITY (1 = every group).

    Returns:
        row name -> :class:`ScoredRow`, in table order (each predictor's views together).
    """
    views = {examples.view: examples} if isinstance(examples, PreparedExamples) else dict(examples)
    order = tuple(views)
    first = views[order[0]]
    for v in views.values():
        if not np.array_equal(v.rows, first.rows):
            raise ValueError("every evaluation view must hold the same people")
    out: dict[str, ScoredRow] = {}
    for pred in predictors:
        t0 = time.process_time()
        pred.fit(first.train)
        fit_s = time.process_time() - t0
        for view in order:
            if not pred.accepts(view) or (pred.view_free and view != order[0]):
                continue
            t0 = time.process_time()
            preds = to_predictions(pred.predict_proba(views[view]), views[view])
            predict_s = time.process_time() - t0
            if getattr(pred, "cpu_seconds", 0) is None:  # predictions made elsewhere, time unknown
                fit_s = predict_s = float("nan")
            elif getattr(pred, "cpu_seconds", None) is not None:
                fit_s, predict_s = 0.0, float(pred.cpu_seconds)
            report = evaluate_predictions(
                preds,
                first.catalog,
                dimensions=dimensions,
                bootstrap=bootstrap,
                seed=seed,
                min_group_size=min_group_size,
            )
            name = row_name(pred.name, view, order)
            out[name] = ScoredRow(
                name,
                report,
                preds,
                int(len(np.unique(preds.person))),
                fit_s if view == order[0] else 0.0,
                predict_s,
                pred.reads,
            )
            if log is not None:
                log(
                    f"{name}: all {report.table3_row()['all']:.2f} on {out[name].n_people} people, "
                    f"{out[name].cpu_seconds:.1f} CPU-s"
                )
    return out
