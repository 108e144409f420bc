"""Table, figure and console summary of the ``elicitation`` experiment (:mod:`ivr.experiment.elicitation`).

The table has one row per (scorer, policy, k): polar / refined / all accuracy, the bootstrap 95%
interval of the headline metric, the mean number of answered questions and the people scored.
The figure draws the headline metric against k per policy, one panel per scorer, with the
interval as a band and the random policy's accuracy at the largest k as a dashed line. The
summary names, per scorer, the smallest k at which the best adaptive policy reaches the lower
bound of random's interval at the largest k, and sigma_INEQUITY (polar) per policy at ``group_k``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ivr.outputs import pyplot, save_figure

METRICS = ("polar_avg", "refined_avg", "all")
ADAPTIVE = ("fixed", "bayes-eig", "reasoner", "neighbours")


def _scores(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in results.values() if "by_k" in r]


def elicitation_table(settings: Any, results: dict[str, dict[str, Any]]) -> pd.DataFrame:
    metric = settings.metric
    rows = {}
    for r in _scores(results):
        for k, s in r["by_k"].items():
            low, high = s["ci"].get(metric) or [None, None]
            row = {m: s["row"].get(m) for m in METRICS}
            row.update(
                {
                    f"{metric} ci low": low,
                    f"{metric} ci high": high,
                    "answered": s.get("answered"),
                    "people": s["people"],
                }
            )
            rows[(r["scorer"], r["policy"], int(k))] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=["scorer", "policy", "k"])
    s_order, p_order = list(settings.scorers), list(settings.policies)

    def key(idx: pd.Index) -> pd.Index:
        if idx.name == "scorer":
            return idx.map(s_order.index)
        return idx.map(p_order.index) if idx.name == "policy" else idx

    return frame.sort_index(key=key)


def matches(settings: Any, table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per scorer: random's accuracy and interval at the largest k, and the smallest k (and policy) where
    the best adaptive policy reaches that interval's lower bound (None when none does)."""
    metric = settings.metric
    k_max = max(settings.ks)
    out = {}
    for scorer in dict.fromkeys(table.index.get_level_values("scorer")):
        part = table.loc[scorer]
        if ("random", k_max) not in part.index:
            continue
        ref = part.loc[("random", k_max)]
        low = ref[f"{metric} ci low"]
        low = float(ref[metric]) if low is None or np.isnan(low) else float(low)
        found = None
        for k in sorted(settings.ks):
            cands = [
                (float(part.loc[(p, k), metric]), p)
                for p in ADAPTIVE
                if (p, k) in part.index and not np.isnan(part.loc[(p, k), metric])
            ]
            if cands and max(cands)[0] >= low:
                same = float(part.loc[("random", k), metric]) if ("random", k) in part.index else float("nan")
                found = {"k": k, "policy": max(cands)[1], "accuracy": max(cands)[0], "random_at_k": same}
                break
        out[scorer] = {"random_k": k_max, "random": float(ref[metric]), "random_ci_low": low, "match": found}
    return out


def matching_text(settings: Any, results: dict[str, dict[str, Any]], table: pd.DataFrame) -> str:
    metric = settings.metric
    lines = [
        f"Smallest k where the best adaptive policy reaches random at k={max(settings.ks)} "
        f"(lower end of its bootstrap 95% interval), metric {metric}:"
    ]
    for scorer, m in matches(settings, table).items():
        hit = m["match"]
        where = (
            f"k={hit['k']} ({hit['policy']}, {hit['accuracy']:.2f}; random at k={hit['k']}: {hit['random_at_k']:.2f})"
            if hit
            else "not reached at any scored k"
        )
        lines.append(
            f"  {scorer}: random@{m['random_k']} = {m['random']:.2f} (ci low {m['random_ci_low']:.2f}) -> {where}"
        )
    gk = settings.group_k
    rows = {}
    for r in _scores(results):
        s = r["by_k"].get(str(gk))
        if s and "inequity" in s:
            rows[(r["scorer"], r["policy"])] = {f"sigma {f}": v for f, v in s["inequity"].items()} | {
                f"{metric}": s["row"].get(metric)
            }
    if rows:
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index = pd.MultiIndex.from_tuples(frame.index, names=["scorer", "policy"])
        lines += [
            "",
            f"sigma_INEQUITY (std of per-group accuracy, mean over dimensions) at k={gk}:",
            frame.round(2).to_string(),
        ]
    return "\n".join(lines)


def elicitation_figure(settings: Any, table: pd.DataFrame, out_dir: Path) -> list[Path]:
    plt = pyplot()
    metric = settings.metric
    scorers = list(dict.fromkeys(table.index.get_level_values("scorer")))
    fig, axes = plt.subplots(1, len(scorers), figsize=(5.2 * len(scorers), 4.2), squeeze=False)
    k_max = max(settings.ks)
    for ax, scorer in zip(axes[0], scorers):
        part = table.loc[scorer]
        for policy in dict.fromkeys(part.index.get_level_values("policy")):
            cur = part.loc[policy].sort_index()
            x = cur.index.to_numpy()
            line = ax.plot(
                x,
                cur[metric].to_numpy(dtype=float),
                marker="o",
                label=policy,
                linestyle="--" if policy == "random" else "-",
            )
            low = cur[f"{metric} ci low"].to_numpy(dtype=float)
            high = cur[f"{metric} ci high"].to_numpy(dtype=float)
            if not np.isnan(low).all():
                ax.fill_between(x, low, high, alpha=0.15, color=line[0].get_color())
        if ("random", k_max) in part.index:
            ax.axhline(
                float(part.loc[("random", k_max), metric]),
                color="grey",
                linestyle=":",
                linewidth=1,
                label=f"random @ {k_max}",
            )
        ax.set_xscale("symlog", linthresh=5)
        ax.set_xlim(0, k_max * 1.15)
        ax.set_xticks(sorted(settings.ks))
        ax.set_xticklabels([str(k) for k in sorted(settings.ks)])
        people = int(part["people"].max())
        ax.set_title(f"scorer: {scorer} ({people} people)")
        ax.set_xlabel("questions asked (k)")
        ax.set_ylabel(f"accuracy (%), {metric}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Adaptive elicitation vs random demonstrations (band: bootstrap 95% CI)")
    fig.tight_layout()
    return [save_figure(fig, out_dir / "figure.png")]
