"""Zero-shot results laid out like the paper: Table 14 (per setup + average) and Figure 2 (accuracy vs d).

Every condition's predictions go through :func:`ivr.metrics.evaluate_predictions`; this module only
arranges the resulting numbers, adds the parse-failure rate and the demonstrations dropped to fit
the context, and (when asked) puts the published figures beside them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ivr.catalog.store import Catalog
from ivr.metrics import evaluate_predictions
from ivr.metrics.predictions import Predictions
from ivr.paper import paper_table

PUBLISHED_TABLES = ("table14_zero_shot_polar", "table13_demo_form", "table3_methods")


def condition_label(demos: int, demo_form: str, demographics: str) -> str:
    """Short name of one prompting condition, e.g. ``200 polar demos + demographics``."""
    if demographics == "only":
        return "demographics only"
    base = f"{demos} {demo_form} demos" if demos else "no demos"
    return base + (" + demographics" if demographics == "with" else "")


def summarize_condition(
    preds: Predictions,
    catalog: Catalog,
    counts: dict[str, int],
    meta: dict[str, Any],
    bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    """One condition's result record: the metrics report plus zero-shot specific counts.

    Args:
        preds: the condition's predictions.
        catalog: the catalog.
        counts: from :func:`ivr.zero_shot.run.collect` plus ``demos_dropped`` / ``prompts_truncated``.
        meta: condition settings (model, demos, demo_form, demographics, scoring).
        bootstrap: bootstrap replicates for the intervals.
        seed: bootstrap seed.
    """
    report = evaluate_predictions(preds, catalog, bootstrap=bootstrap, seed=seed)
    scored = int((preds.target >= 0).sum())
    failed = int(((preds.target >= 0) & (preds.pred < 0)).sum())
    return {
        **meta,
        "label": condition_label(meta["demos"], meta["demo_form"], meta["demographics"]),
        "table3_row": report.table3_row(),
        "parse_failure_rate": failed / scored if scored else 0.0,
        **counts,
        "report": report.to_dict(),
    }


def load_published(path: str | Path | None = None) -> dict[str, list[float]]:
    """Published zero-shot rows as name -> [P0, P1, P2, Avg] (polar probes).

    Args:
        path: the paper's ``results.json``; None = the copy shipped with the package.

    Raises:
        FileNotFoundError / KeyError / ValueError: naming the file or the missing table.
    """
    table14, table13, table3 = (paper_table(key, path) for key in PUBLISHED_TABLES)
    rows: dict[str, list[float]] = {}
    for name, vals in table14.items():
        rows[f"{name}, 200 polar demos"] = list(vals)
    for name, vals in table13.items():
        rows[f"GPT-4o (0806), {name.replace('_', ' ')}"] = list(vals)
    for name, rec in table3.items():
        if isinstance(rec, dict) and (name == "Random" or ("demo" in name and "IVR" not in name)):
            rows[name] = [*rec["polar"], rec["polar_avg"]]
    return rows


def _cells(vals: list[float | None]) -> str:
    return " | ".join("—" if v is None else f"{v:.2f}" for v in vals)


def _interval(res: dict[str, Any], key: str) -> str:
    ci = (res.get("report", {}).get("ci") or {}).get(key)
    return "—" if not ci or any(v is None for v in ci) else f"{ci[0]:.1f}–{ci[1]:.1f}"


def table14(results: list[dict[str, Any]], published: dict[str, list[float]] | None = None) -> str:
    """Markdown table: one row per (model, condition, probe form): accuracy per setup, Avg with its
    bootstrap 95% interval, parse-failure rate and demonstrations dropped to fit the context;
    published rows (P0-P2, Avg; Tables 14, 13 and 3 of the paper) last."""
    setups = sorted({s for r in results for s in r["report"]["setups"]}) or [0, 1, 2]
    if published:
        setups = sorted(set(setups) | {0, 1, 2})
    head = " | ".join(f"P{s}" for s in setups)
    lines = [
        f"| model | condition | probes | {head} | Avg | Avg 95% CI | parse fail % | demos dropped |",
        "|---|---|---|" + "---|" * len(setups) + "---|---|---|---|",
    ]
    for res in results:
        row, have = res["table3_row"], res["report"]["setups"]
        for form in ("polar", "refined"):
            vals = row.get(form)
            if not vals or all(v is None for v in vals):
                continue
            by_setup = dict(zip(have, vals, strict=True))
            cells = _cells([by_setup.get(s) for s in setups] + [row.get(f"{form}_avg")])
            lines.append(
                f"| {res['model']} | {res['label']} ({res['scoring']}) | {form} | {cells} | "
                f"{_interval(res, f'{form}_avg')} | {100 * res['parse_failure_rate']:.1f} | {res['demos_dropped']} |"
            )
    for name, vals in (published or {}).items():
        by_setup = dict(zip([0, 1, 2], vals[:3], strict=False))
        lines.append(
            f"| {name} | published | polar | {_cells([by_setup.get(s) for s in setups] + [vals[3]])} | — | — | — |"
        )
    if published:
        lines.append("")
        lines.append(
            "Published rows: the paper's Table 14 (200 polar demonstrations), Table 13 (GPT-4o, demonstration "
            "form) and the zero-shot rows of Table 3."
        )
    return "\n".join(lines) + "\n"


def published_curves(published: dict[str, list[float]]) -> dict[str, list[tuple[int, float]]]:
    """Published (demonstrations, polar Avg) points of Table 3's zero-shot rows, by model."""
    curves: dict[str, list[tuple[int, float]]] = {}
    for name, vals in published.items():
        m = re.match(r"(.+?) \((no|\d+) demo\.\)$", name)
        if m:
            curves.setdefault(m.group(1), []).append((0 if m.group(2) == "no" else int(m.group(2)), vals[3]))
    return curves


def plot_figure2(
    results: list[dict[str, Any]], out_png: str | Path, published: dict[str, list[float]] | None = None
) -> Path:
    """Figure 2: average polar (and refined) accuracy against the number of demonstrations.

    Each point carries its bootstrap 95% interval. Unreadable replies count as wrong answers, so a
    point whose groups could not all be read is labelled with its parse-failure rate, and a
    condition with no readable group at all is marked (✕ "no readable reply") instead of being
    drawn as 0 % accuracy.

    Args:
        results: condition records from :func:`summarize_condition`.
        out_png: where to write the PNG.
        published: rows from :func:`load_published`; the zero-shot rows of the paper's Table 3 are
            drawn dashed and labelled as such.
    """
    from ivr.outputs import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    series: dict[str, list[tuple[int, float, float, list | None]]] = {}
    for res in results:
        for form in ("polar", "refined"):
            avg = res["table3_row"].get(f"{form}_avg")
            if avg is None:
                continue
            extra = {"with": " + demographics", "only": " demographics only"}.get(res["demographics"], "")
            key = f"{res['model']} ({form} probes, {res['demo_form']} demos{extra})"
            ci = (res.get("report", {}).get("ci") or {}).get(f"{form}_avg")
            series.setdefault(key, []).append((res["demos"], avg, float(res.get("parse_failure_rate", 0.0)), ci))
    failed_label = True
    for key, pts in series.items():
        pts.sort(key=lambda p: p[0])
        ok = [p for p in pts if p[2] < 1.0]
        line = None
        if ok:
            x, y = [p[0] for p in ok], [p[1] for p in ok]
            low = [p[1] - p[3][0] if p[3] and None not in p[3] else 0.0 for p in ok]
            high = [p[3][1] - p[1] if p[3] and None not in p[3] else 0.0 for p in ok]
            line = ax.errorbar(x, y, yerr=[low, high], marker="o", capsize=3, label=key)
            for xi, yi, rate, _ in ok:
                if rate > 0:
                    ax.annotate(
                        f"{100 * rate:.0f}% unreadable",
                        (xi, yi),
                        textcoords="offset points",
                        xytext=(4, -11),
                        fontsize=6,
                        color="firebrick",
                    )
        for xi, _, rate, _ in pts:
            if rate >= 1.0:
                color = line.lines[0].get_color() if line is not None else "firebrick"
                ax.scatter(
                    [xi],
                    [0],
                    marker="x",
                    s=60,
                    color=color,
                    label="no readable reply (not 0 %)" if failed_label else None,
                )
                failed_label = False
    for model, pts in published_curves(published or {}).items():
        pts.sort()
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            "--",
            marker="s",
            alpha=0.6,
            label=f"{model} (paper, Table 3 zero-shot rows, polar)",
        )
    ax.set_ylim(0, 100)
    ax.set_xlabel("demonstration statements in the prompt")
    ax.set_ylabel("accuracy (%), unreadable groups counted wrong")
    ax.set_title("Zero-shot accuracy vs demonstrations (bars: bootstrap 95% CI)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return save_figure(fig, out_png)
