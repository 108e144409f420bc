"""``evaluate_predictions``: every figure of the protocol for one set of predictions.

The headline per-group accuracy and sigma_INEQUITY are for the polar form when present (the study
computes sigma on its zero-shot polar probes); both forms are kept in ``*_by_form``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ivr.catalog.store import Catalog
from ivr.errors import InputError
from ivr.metrics.bootstrap import bootstrap_ci, id_order
from ivr.metrics.calibration import brier_score, expected_calibration_error
from ivr.metrics.inequity import group_accuracy, inequity_index
from ivr.metrics.predictions import FORM_NAMES, Predictions
from ivr.metrics.scores import accuracy_table, person_scores, table3_row
from ivr.metrics.summary import catalog_groups


@dataclass
class Report:
    """All evaluation figures (accuracies in percent).

    Attributes:
        accuracy: form -> {"p<setup>": accuracy}.
        by_category: form -> {category: accuracy} (per setup as eqs. 1-2, then mean over setups).
        per_group: headline form's dimension -> {group: accuracy}.
        group_sizes: headline form's dimension -> {group: people}.
        inequity: {"form", "index", "per_dimension", "min_group_size"} for the headline form.
        per_group_by_form / inequity_by_form: the same for every form present.
        ci: name -> [low, high] bootstrap 95% interval (``polar/p0``, ``polar_avg``, ``all``,
            ``inequity/polar`` ...).
        calibration: form -> {"brier", "ece"} when probabilities were given.
        counts: people, scored and unscored probes, parse failures, per form.
        distribution: form -> dimension (``all`` first) -> {"w1", "js", "answers", "groups"}: the fit of the
            mean predicted answer distribution to the observed one per (question, group)
            (:mod:`ivr.metrics.distribution`), when probabilities were given.
        group_order: dimension -> its groups in their natural order (the codebook's code order:
            age bands, education levels, income and class from low to high).
    """

    accuracy: dict[str, dict[str, float]]
    setups: list[int]
    by_category: dict[str, dict[str, float]] = field(default_factory=dict)
    per_group: dict[str, dict[str, float]] = field(default_factory=dict)
    group_sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    inequity: dict[str, Any] = field(default_factory=dict)
    per_group_by_form: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    inequity_by_form: dict[str, dict[str, Any]] = field(default_factory=dict)
    ci: dict[str, list[float]] = field(default_factory=dict)
    calibration: dict[str, dict[str, float]] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    group_order: dict[str, list[str]] = field(default_factory=dict)
    distribution: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def table3_row(self) -> dict[str, Any]:
        """``{"polar": [p0, p1, p2], "polar_avg", "refined": [...], "refined_avg", "all"}``."""
        table = {
            (f, s): self.accuracy[name][f"p{s}"]
            for f, name in enumerate(FORM_NAMES)
            if name in self.accuracy
            for s in self.setups
            if f"p{s}" in self.accuracy[name]
        }
        return table3_row(table, self.setups)

    def to_dict(self) -> dict[str, Any]:
        return {"table3_row": self.table3_row(), **asdict(self)}

    def to_json(self, path: str | Path | None = None) -> str:
        """The report as JSON (nan -> null); also written atomically to ``path`` when given."""
        text = json.dumps(_clean(self.to_dict()), indent=2, ensure_ascii=False)
        if path is not None:
            path = Path(path)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(text)
            tmp.replace(path)
        return text


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return None if math.isnan(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def natural_order(catalog: Catalog, dimension: str) -> list[str]:
    """A dimension's groups in the codebook's code order (ordinal scales low to high; regrouped
    values at the place of their first code)."""
    demo = catalog.codebook.dimensions[dimension]
    order: list[str] = []
    for code in sorted(demo.values):
        group = demo.group(code)
        if group is not None and str(group) not in order:
            order.append(str(group))
    return order


def evaluate_predictions(
    preds: Predictions,
    catalog: Catalog,
    dimensions: list[str] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    min_group_size: int = 1,
) -> Report:
    """Score predictions against the protocol.

    Args:
        preds: the predictions (``person`` = catalog rows).
        catalog: the catalog the rows refer to (categories, demographic groups).
        dimensions: demographic dimensions for per-group accuracy and sigma; default every
            dimension of the codebook (the study's 16 for WVS-7).
        bootstrap: bootstrap replicates for the 95% intervals (0 = none).
        seed: bootstrap seed.
        min_group_size: leave groups with fewer people out of sigma (1 = off, as in the study).

    Returns:
        The :class:`Report`.

    Raises:
        ValueError: rows outside the catalog, question indices outside the codebook, or an
            unknown dimension.
    """
    groups = catalog_groups(catalog, dimensions)
    n_q = len(catalog.codebook.questions)
    if len(preds) and (preds.person.min() < 0 or preds.person.max() >= len(catalog)):
        raise InputError(f"Predictions.person holds rows outside the catalog (0..{len(catalog) - 1})")
    if len(preds) and (preds.question.min() < 0 or preds.question.max() >= n_q):
        raise InputError(f"Predictions.question holds indices outside the codebook (0..{n_q - 1})")
    # people in person-id order from here on: every sum over people and the bootstrap's draws follow the ids,
    # so a catalog whose rows are shuffled gives identical figures and intervals
    by_id = id_order(catalog.person_ids)
    rank = np.empty(len(catalog), dtype=np.int64)
    rank[by_id] = np.arange(len(catalog))
    preds = replace(preds, person=rank[preds.person]).canonical()
    groups = {dim: labels[by_id] for dim, labels in groups.items()}
    scores = person_scores(preds)
    table = accuracy_table(scores)
    setups = sorted({s for _, s in table})
    forms = sorted({f for f, _ in table})
    accuracy = {FORM_NAMES[f]: {f"p{s}": v for (ff, s), v in table.items() if ff == f} for f in forms}
    report = Report(accuracy=accuracy, setups=setups, group_order={d: natural_order(catalog, d) for d in groups})

    categories = np.array([q.category for q in catalog.codebook.questions], dtype=object)[preds.question]
    for cat in catalog.codebook.categories:
        cat_table = accuracy_table(person_scores(preds, categories == cat))
        for f in sorted({f for f, _ in cat_table}):
            vals = [v for (ff, _), v in cat_table.items() if ff == f]
            report.by_category.setdefault(FORM_NAMES[f], {})[cat] = float(np.mean(vals))

    for f in sorted({int(f) for f in scores.form}):
        name = FORM_NAMES[f]
        per_group, sizes = {}, {}
        for dim, labels in groups.items():
            per_group[dim], sizes[dim] = group_accuracy(scores, labels, f, min_group_size)
        index, per_dim = inequity_index(per_group)
        report.per_group_by_form[name] = per_group
        report.inequity_by_form[name] = {
            "form": name,
            "index": index,
            "per_dimension": per_dim,
            "min_group_size": min_group_size,
            "group_sizes": sizes,
        }
        sel = preds.form == f
        scored = preds.target[sel] >= 0
        report.counts[name] = {
            "people": int(len(np.unique(scores.person[scores.form == f]))),
            "scored": int(scored.sum()),
            "unscored": int((~scored).sum()),
            "parse_failures": int((scored & (preds.pred[sel] < 0)).sum()),
        }
        if preds.probs is not None:
            report.calibration[name] = {
                "brier": brier_score(preds.probs[sel], preds.target[sel]),
                "ece": expected_calibration_error(preds.probs[sel], preds.target[sel]),
            }
    head = "polar" if "polar" in report.inequity_by_form else next(iter(report.inequity_by_form), None)
    if head is not None:
        report.per_group = report.per_group_by_form[head]
        report.inequity = {k: v for k, v in report.inequity_by_form[head].items() if k != "group_sizes"}
        report.group_sizes = report.inequity_by_form[head]["group_sizes"]
    report.counts["people"] = int(len(np.unique(scores.person)))
    if preds.probs is not None:
        from ivr.metrics.distribution import distribution_fit

        report.distribution = distribution_fit(preds, groups, len(catalog), catalog.codebook)
    report.ci = {
        k: list(v)
        for k, v in bootstrap_ci(scores, groups, bootstrap, seed, min_group_size, ids=catalog.person_ids[by_id]).items()
    }
    return report


def _wrap(label: str, width: int = 16) -> str:
    import textwrap

    lines = textwrap.wrap(label, width) or [label]
    return "\n".join(lines[:2]) + ("…" if len(lines) > 2 else "")


def plot_per_group(report: Report, out_png: str | Path, title: str | None = None) -> Path:
    """Per-group accuracy charts, one panel per dimension (headline form), written as PNG.

    Every bar is one group, in the dimension's natural order (:func:`natural_order`: age, education,
    income and class from low to high), labelled with its number of people and, when the report has
    bootstrap intervals, drawn with its 95% interval. All panels share one y range so groups of
    different dimensions compare at a glance; the dashed line is the unweighted mean of the groups
    (the quantity σ spreads around), not a published figure.

    Args:
        report: a report with per-group accuracy.
        out_png: the PNG to write.
        title: a heading (default: form and σINEQUITY).
    """
    from ivr.outputs import pyplot, save_figure

    plt = pyplot()
    dims = [d for d, g in report.per_group.items() if g]
    if not dims:
        raise ValueError("the report has no per-group accuracies to plot")
    form = report.inequity.get("form", "")
    panels = []
    for dim in dims:
        groups = report.per_group[dim]
        order = [g for g in report.group_order.get(dim, []) if g in groups]
        order += sorted(g for g in groups if g not in order)
        sizes = report.group_sizes.get(dim, {})
        cis = [report.ci.get(f"group/{form}/{dim}/{g}") for g in order]
        panels.append((dim, order, [groups[g] for g in order], [sizes.get(g) for g in order], cis))
    values = [v for *_, vals, _, cis in panels for v in vals] + [
        x for *_, cis in panels for ci in cis if ci for x in ci if x is not None
    ]
    lo, hi = max(0.0, min(values) - 3), min(100.0, max(values) + 3)
    # dimensions with many groups (countries) get a row of their own, the others four to a row
    ncol, rows, row = 4, [], []
    for p in panels:
        if len(p[1]) > 12:
            rows.append([p])
        else:
            row.append(p)
            if len(row) == ncol:
                rows.append(row)
                row = []
    rows += [row] if row else []
    fig = plt.figure(figsize=(17, 3.6 * len(rows) + 0.8), layout="constrained")
    grid = fig.add_gridspec(len(rows), ncol)
    sigma = report.inequity.get("per_dimension", {})
    for r, members in enumerate(rows):
        for c, (dim, order, vals, sizes, cis) in enumerate(members):
            ax = fig.add_subplot(grid[r, :] if len(members) == 1 and len(order) > 12 else grid[r, c])
            x = np.arange(len(order))
            ax.bar(x, vals, color="tab:blue")
            # whiskers drawn from the interval itself: a percentile interval of a small group need not
            # contain its point estimate, so offsets from the bar could be negative
            ok = [i for i, ci in enumerate(cis) if ci is not None and None not in ci]
            if ok:
                ax.errorbar(
                    x[ok],
                    [(cis[i][0] + cis[i][1]) / 2 for i in ok],
                    yerr=[(cis[i][1] - cis[i][0]) / 2 for i in ok],
                    fmt="none",
                    ecolor="black",
                    elinewidth=0.8,
                    capsize=2,
                )
            ax.axhline(float(np.mean(vals)), color="grey", linestyle="--", linewidth=0.8)
            ax.set_ylim(lo, hi)
            upright = len(order) > 6
            labels = [f"{_wrap(g, 14)}\n(n={n})" if n is not None else _wrap(g, 14) for g, n in zip(order, sizes)]
            ax.set_xticks(x, labels, rotation=90 if upright else 35, ha="center" if upright else "right", fontsize=6)
            s = sigma.get(dim, float("nan"))
            ax.set_title(f"{dim}  (σ = {s:.2f})" if s is not None and not math.isnan(s) else dim, fontsize=9)
            ax.set_ylabel("accuracy (%)", fontsize=7)
            ax.tick_params(axis="y", labelsize=7)
    index = report.inequity.get("index", float("nan"))
    heading = title or f"Per-group accuracy ({form} probes); σINEQUITY = {index:.2f}"
    note = (
        "bars: groups in natural order, n = people; whiskers: bootstrap 95% interval; "
        "dashed: unweighted mean of the groups"
    )
    fig.suptitle(f"{heading}\n{note}", fontsize=9)
    return save_figure(fig, out_png, dpi=120)
