"""The exact Bayes ceiling beside a reasoner's table, and the figures that compare them.

On a synthetic catalog (a folder with ``synth_model.npz``), :func:`ceiling_predictors` gives the
generator's exact posterior as a predictor, scored through the one evaluation path on the same people,
probe setups, forms, demonstrations and evaluation views as the reasoner. Its
row is the best any method can reach on those people; :func:`gap_lines` prints each model's distance
to it, :func:`fit_table` the distributional fit and calibration of every scored row side by side.

The ceiling knows the generator's 4,000 profiles exactly, and with 200 demonstrations its posterior
settles on a person's own profile (its top profile holds > 99% of the mass), so it predicts from that
profile's true answer probabilities -- which no learner is given. The second reference row,
``PROFILE_ORACLE`` (:func:`baselines.latent_class.profile_oracle_model`), is told every training
person's profile and counts each profile's probabilities from its ~23 members: what a learner that
recovered every profile would reach from this many training people. The distance between the two rows
is the part of the ceiling the training sample cannot reveal.
The ceiling is :class:`ivr.predict.bayes.BayesCeiling`; the profile oracle, which fits on the training
people, lives with the other fitted predictors (``baselines.predictors``, imported lazily).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ivr.predict.bayes import CEILING, PROFILE_ORACLE, BayesCeiling, load_model  # noqa: F401 - the report names both rows

SUMMARY = ("polar_avg", "refined_avg", "all")


def catalog_folder(dm: Any) -> Path | None:
    """The data module's catalog folder (a ``synthetic:`` spec resolves to its cached build)."""
    from ivr.catalog.resolve import resolve_catalog

    try:
        return Path(resolve_catalog(str(dm.hparams.catalog), dm.cache_dir))
    except Exception:  # noqa: BLE001 - a catalog that cannot be resolved simply has no ceiling
        return None


def ceiling_predictors(dm: Any) -> list[Any]:
    """The profile oracle and the Bayes ceiling as predictors ([] on a non-synthetic catalog).

    Both read each person's shown demonstrations from the shared prepared examples (the protocol's draw
    under the data module's seed, count -- resolved by the protocol, so ``eval_demo_count`` null or
    ``all`` works --, rule and allowed questions). The profile oracle is left out when the demonstrations
    come with demographics, which it does not model; under ``demographics: only`` the ceiling conditions on
    the demographics alone.
    """
    folder = catalog_folder(dm)
    if folder is None or not (folder / "synth_model.npz").exists():
        return []
    model = load_model(folder, "the Bayes ceiling")
    demographics = dm.hparams.demographics
    rows: list[Any] = []
    if demographics == "none":
        try:
            from baselines.predictors import ProfileOracle
        except ImportError as err:
            print(f"[ivr] profile oracle unavailable ({err})", file=sys.stderr)
        else:
            rows.append(ProfileOracle(model))
    return rows + [BayesCeiling(model, use_demographics=demographics != "none")]


def gap_lines(rows: dict[str, dict[str, Any]], models: list[str], ceiling: str = CEILING) -> list[str]:
    """``name: all -2.31, polar -1.80, refined -2.82`` (points to the ceiling) for each model row."""
    if ceiling not in rows:
        return []
    top = rows[ceiling]
    out = []
    for name in models:
        if name in rows and name != ceiling:
            gaps = ", ".join(f"{k.replace('_avg', '')} {rows[name][k] - top[k]:+.2f}" for k in ("all", *SUMMARY[:2]))
            out.append(f"  {name}: {gaps}")
    return out


def _fmt(value: float, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def fit_table(reports: dict[str, Any]) -> str:
    """Calibration and distributional fit of each report, one line per (method, form).

    Columns: Brier, ECE, then W1 (ordered questions) per dimension for the population (``all``) and the
    answer-weighted mean over the demographic dimensions, and JS for the unordered questions.
    """
    head = (
        f"{'method':38s}{'form':>9s}{'Brier':>8s}{'ECE':>8s}{'W1 all':>9s}{'W1 groups':>11s}"
        f"{'JS all':>9s}{'JS groups':>11s}"
    )
    lines = [head, "-" * len(head)]
    for name, report in reports.items():
        for form, dims in (report.distribution or {}).items():
            cal = report.calibration.get(form, {})
            group_dims = [d for d in dims if d != "all"]

            def mean(key: str) -> float:
                vals = [dims[d][key] for d in group_dims if not math.isnan(dims[d][key])]
                return float(np.mean(vals)) if vals else float("nan")

            lines.append(
                f"{name[:37]:38s}{form:>9s}{_fmt(cal.get('brier')):>8s}{_fmt(cal.get('ece')):>8s}"
                f"{_fmt(dims['all']['w1'], 4):>9s}{_fmt(mean('w1'), 4):>11s}"
                f"{_fmt(dims['all']['js'], 4):>9s}{_fmt(mean('js'), 4):>11s}"
            )
    return "\n".join(lines)


def dimension_table(reports: dict[str, Any], form: str = "polar") -> str:
    """W1 (ordered questions) per dimension, one column per method: where the fit is worst per group."""
    names = [n for n, r in reports.items() if form in (r.distribution or {})]
    if not names:
        return ""
    dims = list(reports[names[0]].distribution[form])
    head = f"{'dimension (' + form + ', W1)':28s}" + "".join(f"{n[:22]:>24s}" for n in names)
    lines = [head, "-" * len(head)]
    for dim in dims:
        lines.append(
            f"{dim[:27]:28s}"
            + "".join(
                f"{_fmt(reports[n].distribution[form].get(dim, {}).get('w1', float('nan')), 4):>24s}" for n in names
            )
        )
    return "\n".join(lines)
