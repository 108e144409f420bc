"""Every experiment's rows through the one evaluation path, and the people each table covers.

An experiment hands a list of :class:`ivr.predict.Predictor` s and the condition's prepared examples
(:func:`ivr.predict.prepare` per demonstration count, category or demographics mode; a trained
reasoner's predictions as :class:`ivr.predict.FixedPredictor`) to :func:`score_predictors`, which runs
:func:`ivr.predict.run_predictors` and keeps what the experiment stores of each row: the Table-3 row,
its bootstrap intervals, the per-group accuracy and ``n``, the people scored. :func:`people_counts`
collects ``n`` from the stored runs for the table's header and ``table.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ivr.predict import Predictor, PreparedExamples, ScoredRow, run_predictors, table_json_row


def row_result(scored: ScoredRow) -> dict[str, Any]:
    """What a run stores of one scored row: ``row`` (Table 3), ``ci``, ``per_group`` (form -> dimension ->
    group -> accuracy), ``people`` and ``n`` (the people scored), ``cpu_seconds``."""
    report = scored.report
    return {
        "row": report.table3_row(),
        "ci": report.ci,
        "per_group": report.per_group_by_form,
        "people": scored.n_people,
        "n": scored.n_people,
        "cpu_seconds": table_json_row(scored)["cpu_seconds"],
    }


def score_predictors(
    predictors: Sequence[Predictor],
    examples: PreparedExamples | Mapping[str, PreparedExamples],
    dimensions: Sequence[str] | None = (),
    bootstrap: int = 0,
    seed: int = 0,
    min_group_size: int = 1,
) -> dict[str, ScoredRow]:
    """:func:`ivr.predict.run_predictors` with the experiments' defaults (no per-group figures unless
    ``dimensions`` names them; None = every dimension of the codebook); returns row name -> scored row."""
    return run_predictors(
        predictors,
        examples,
        bootstrap=bootstrap,
        seed=seed,
        dimensions=None if dimensions is None else list(dimensions),
        min_group_size=min_group_size,
    )


def score_one(
    predictor: Predictor, examples: PreparedExamples, dimensions: Sequence[str] = (), bootstrap: int = 0, seed: int = 0
) -> dict[str, Any]:
    """One predictor's :func:`row_result` on ``examples``."""
    scored = score_predictors([predictor], examples, dimensions, bootstrap, seed)
    return row_result(next(iter(scored.values())))


def _counts(value: Any, found: set[int]) -> None:
    if isinstance(value, dict):
        if isinstance(value.get("n"), int) and not isinstance(value.get("n"), bool):
            found.add(int(value["n"]))
        for v in value.values():
            _counts(v, found)
    elif isinstance(value, list):
        for v in value:
            _counts(v, found)


def people_counts(results: Mapping[str, Any]) -> dict[str, int | list[int]]:
    """Run id -> the people its rows were scored on (a sorted list when its rows differ); runs that score
    nobody (training, asked sequences) are left out."""
    out: dict[str, int | list[int]] = {}
    for run_id, result in results.items():
        found: set[int] = set()
        _counts(result, found)
        if found:
            out[run_id] = found.pop() if len(found) == 1 else sorted(found)
    return out


def people_line(results: Mapping[str, Any]) -> str:
    """``n = 24 people in every row`` (or the range, when conditions score different people), for the header."""
    counts = people_counts(results)
    values = sorted({v for c in counts.values() for v in (c if isinstance(c, list) else [c])})
    if not values:
        return ""
    if len(values) == 1:
        return f"n = {values[0]} people in every row (the same people for every predictor and condition)"
    return f"n = {values[0]}–{values[-1]} people per row (per run: table.json 'n')"
