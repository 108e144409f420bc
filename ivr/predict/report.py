"""The Table-3 report that ``ivr.fit`` and ``ivr.evaluate`` print and write: each model's test predictions
scored beside the Global-majority, Resemble, classical-imputer and (synthetic catalogs) Bayes-ceiling rows on
the same people, as one table (``table.txt``, ``table.csv``, ``table.json``) with per-model reports,
predictions and per-group charts, written atomically into an ``evaluate`` output folder.

Every row runs through :func:`ivr.predict.run_predictors` on the same prepared examples; the statistical rows
come from ``baselines/`` and :mod:`ivr.ceiling`, imported when a report asks for them (CONTRACTS.md §1).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FORMS = ("polar", "refined")


def table_columns(setups: list[int]) -> list[str]:
    """``polar P0 .. polar avg, refined P0 .. refined avg, all``."""
    return [c for f in FORMS for c in [f"{f} P{s}" for s in setups] + [f"{f} avg"]] + ["all"]


def row_values(row: dict[str, Any]) -> list[float]:
    """A Table-3 row (``ivr.metrics.Report.table3_row``) flattened in :func:`table_columns` order."""
    return [float(v) for f in FORMS for v in [*row[f], row[f"{f}_avg"]]] + [float(row["all"])]


def format_table(rows: dict[str, dict[str, Any]], setups: list[int], convention: str | None = None) -> str:
    """Console table laid out like Table 3, under the header naming the evaluation convention and the people.

    Args:
        rows: name -> Table-3 row (:func:`ivr.predict.table_json_row`: with ``n`` and ``cpu_seconds`` when known).
        setups: the setups scored.
        convention: header lines every row follows (the convention and the ``n = ... people`` line).
    """
    cols = table_columns(setups)
    width = max([len(n) for n in rows] + [6]) + 2
    head = (
        "method".ljust(width)
        + "".join(c.replace("polar ", "p ").replace("refined ", "r ").rjust(9) for c in cols)
        + "n".rjust(7)
        + "CPU s".rjust(9)
    )
    lines = ([convention, ""] if convention else []) + [head, "-" * len(head)]
    for name, row in rows.items():
        n = row.get("n")
        cpu = row.get("cpu_seconds")
        lines.append(
            name.ljust(width)
            + "".join(f"{v:9.2f}" for v in row_values(row))
            + (f"{n:7d}" if n is not None else "      –")
            + (f"{cpu:9.1f}" if cpu is not None else "        –")
        )
    return "\n".join(lines)


#: latent classes among the imputers of ``--imputers true``: a small-survey default (the real-survey suite's
#: surveys have 1,500-3,900 people); ``python -m baselines --latent_classes K`` chooses any K.
IMPUTER_LATENT_CLASSES = 8


def baseline_predictors(dm: Any, imputers: bool = True) -> list[Any]:
    """Global majority, Resemble (all, top 1 / top cluster) and the classical imputers as predictors
    ([] when ``baselines`` is missing)."""
    try:
        from baselines.predictors import GlobalMajority, imputer_rows, resemble_rows
    except ImportError as err:
        print(f"[ivr] baselines unavailable ({err}); printing the model rows only", file=sys.stderr)
        return []
    resemble, _ = resemble_rows(("all",), 35, 24, "non_probe")
    return [GlobalMajority(), *resemble, *(imputer_rows(IMPUTER_LATENT_CLASSES) if imputers else [])]


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "model"


def report_run(
    predictions: dict[str, Any],
    dm: Any,
    out: str | Path,
    with_baselines: bool = True,
    bootstrap: int = 1000,
    published: bool = False,
    overwrite: bool = False,
    flag: str = "--out",
    progress: bool = True,
    paper: str | Path | None = None,
    ceiling: bool = True,
    imputers: bool = False,
) -> dict[str, dict[str, Any]]:
    """Score each model's test predictions, add baseline / paper rows, print and write the table.

    Args:
        predictions: model name -> ``ivr.metrics.Predictions`` on the test people, or -> {evaluation view:
            Predictions} (:func:`test_views`; a later view's row is named ``name [view]``).
        dm: the set-up data module (catalog, split, evaluation convention).
        out: output folder: new, or an earlier evaluation output (replaced atomically once every
            file is ready; a folder with other files is refused).
        with_baselines: add Global-majority, Resemble and (``imputers``) the classical imputers' rows on the
            same people.
        bootstrap: bootstrap resamples for the confidence intervals.
        published: add the paper's Table-3 rows.
        paper: the paper's results.json for those rows (default: the packaged copy).
        overwrite: allow ``out`` to replace an ivr output of another kind.
        flag: the flag that named ``out`` (error messages).
        progress: a progress line per scored row.
        imputers: with the baselines, add gradient-boosted trees, the latent-trait model and latent classes.
        ceiling: on a synthetic catalog, add the exact Bayes predictor's row on the same people, the
            gap of each model to it, and its calibration and distributional fit
            (:mod:`ivr.ceiling`).

    Every row is a :class:`ivr.predict.Predictor` run through :func:`ivr.predict.run_predictors` on the same
    prepared examples (the models' people, setups, demonstrations and views).

    Returns:
        name -> Table-3 row of every printed row (:func:`ivr.predict.table_json_row`).
    """
    from ivr.metrics import plot_per_group
    from ivr.model.published import published_table3
    from ivr.outputs import check_output, write_output
    from ivr.predict import FixedPredictor, from_datamodule, people_header, run_predictors, table_json_row

    out = Path(out)
    check_output(out, "evaluate", overwrite, flag)
    first_view = dm.eval_views[0]
    models = [
        FixedPredictor(name, dict(p) if isinstance(p, Mapping) else {first_view: p}, None)
        for name, p in predictions.items()
    ]
    first = next(iter(models[0].predictions.values()))
    import numpy as np

    setups = sorted(int(s) for s in np.unique(first.setup))
    examples = from_datamodule(dm, rows=np.unique(first.person), setups=setups)
    views = {v: examples.with_view(v) for v in dm.eval_views}
    predictors: list[Any] = list(models)
    if with_baselines:
        predictors += baseline_predictors(dm, imputers)
    if ceiling:
        from ivr.ceiling import ceiling_predictors

        predictors += ceiling_predictors(dm)
    scored = run_predictors(
        predictors,
        views,
        bootstrap=bootstrap,
        seed=dm.hparams.seed,
        log=(lambda line: print(f"[ivr] {line}", file=sys.stderr)) if progress else None,
    )
    rows = {name: table_json_row(r) for name, r in scored.items()}
    reports = {name: r.report for name, r in scored.items()}
    predictions = {name: r.predictions for name, r in scored.items()}
    model_names = [n for n in rows if any(n == m.name or n.startswith(m.name + " [") for m in models)]
    # reports, predictions and per-group charts are written for the models and the reference rows
    from ivr.ceiling import CEILING, PROFILE_ORACLE

    kept = model_names + [n for n in rows if n.startswith((CEILING, PROFILE_ORACLE))]
    if published:
        rows.update({f"{k} (paper)": v for k, v in published_table3(paper).items() if len(v["polar"]) == len(setups)})
    header = (
        dm.convention(resemble="non_probe" if with_baselines else None)
        + "\n"
        + people_header(examples, dm.hparams.limit_eval_people)
    )
    text = format_table(rows, setups, header)
    if published:
        text += "\n(paper) rows: Table 3 of the paper"
    intervals = [
        f"  {name}: " + ", ".join(f"{k.replace('_avg', '')} {lo:.2f}-{hi:.2f}" for k, (lo, hi) in r["ci"].items())
        for name, r in rows.items()
        if r.get("ci")
    ]
    if intervals:
        text += f"\n95% bootstrap intervals ({bootstrap} resamples of people):\n" + "\n".join(intervals)
    from ivr.ceiling import dimension_table, fit_table, gap_lines

    gaps = gap_lines(rows, model_names + [PROFILE_ORACLE])
    if gaps:
        text += "\nPoints to the Bayes ceiling (same people, demonstrations and forms):\n" + "\n".join(gaps)
    gaps = gap_lines(rows, model_names, ceiling=PROFILE_ORACLE)
    if gaps:
        text += (
            "\nPoints to the profile oracle (the ceiling's profiles, their answer probabilities counted from "
            "the training people):\n" + "\n".join(gaps)
        )
    if any(r.distribution for r in reports.values()):
        text += (
            "\n\nCalibration and distributional fit per (question, group): W1 on ordered options / (options - 1), "
            "JS (base 2) on unordered; 'groups' = mean over the demographic dimensions (0 = exact)\n"
            + fit_table(reports)
            + "\n\n"
            + dimension_table({n: reports[n] for n in kept})
        )
    import pandas as pd

    frame = pd.DataFrame([row_values(r) for r in rows.values()], index=list(rows), columns=table_columns(setups))
    frame.index.name = "method"

    def write(tmp: Path) -> None:
        for name in kept:
            report = reports[name]
            report.to_json(tmp / f"{slug(name)}_report.json")
            predictions[name].save(tmp / f"{slug(name)}_predictions.npz")
            if report.per_group:
                plot_per_group(report, tmp / f"{slug(name)}_per_group.png")
        (tmp / "table.txt").write_text(text + "\n")
        frame.to_csv(tmp / "table.csv", float_format="%.2f")
        (tmp / "table.json").write_text(json.dumps(rows, indent=2))

    write_output(out, "evaluate", write, overwrite, flag)
    print(f"\nTest people: {examples.n_people}; accuracy in percent\n{text}\n")
    print(f"[ivr] wrote {out}/table.csv, table.json and per-model reports / per-group plots")
    return rows
