"""PNG charts of the baselines: the cluster-size sweep (vs the paper's Table 20) and per-group accuracy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from baselines.run import BaselineResults
from ivr.metrics import plot_per_group


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def slug(name: str) -> str:
    """A file-name-safe form of a method name."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def plot_sweep(results: BaselineResults, out_png: Path, published: dict | None = None) -> Path:
    """Accuracy (all / polar avg / refined avg) against cluster size N for every pool.

    Args:
        results: baseline results with a sweep.
        out_png: the PNG to write.
        published: results JSON; its ``table20_resemble_cluster_size`` (pool "all") is drawn too.

    Returns:
        The PNG path.
    """
    from ivr.outputs import save_figure

    plt = _pyplot()
    keys = ("all", "polar_avg", "refined_avg")
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), sharex=True, sharey=True)  # one y range per figure
    paper = (published or {}).get("table20_resemble_cluster_size")
    for ax, key in zip(axes, keys):
        for pool, rows in results.sweep.items():
            ns = range(1, len(rows) + 1)
            ax.plot(ns, [r[key] for r in rows], marker=".", label=f"ours, pool {pool}")
        if paper and key in paper:
            ax.plot(paper["N"], paper[key], "k--", marker="x", label="paper, Table 20 (pool: all)")
        ax.axvline(results.info["n_cluster"], color="grey", lw=0.8, ls=":")
        ax.set_title(key.replace("_", " "))
        ax.set_xlabel("cluster size N")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(
        f"Resemble top-cluster accuracy by cluster size (dotted: N = {results.info['n_cluster']}, "
        f"the 'top cluster' rows; {results.info.get('n_eval', '?')} evaluation people)"
    )
    return save_figure(fig, out_png, dpi=110)


def write_plots(results: BaselineResults, out_dir: Path, published: dict | None = None) -> list[Path]:
    """The sweep curve plus one per-group chart per scored method, into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    if results.sweep:
        paths.append(plot_sweep(results, out_dir / "n_sweep.png", published))
    for name, report in results.reports.items():
        if any(report.per_group.values()):
            paths.append(plot_per_group(report, out_dir / f"per_group_{slug(name)}.png"))
    return paths
