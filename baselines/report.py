"""Table-3 layout of baseline scores: console table, CSV and JSON, with published figures beside."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from baselines.run import GLOBAL, RANDOM, RANDOM_DRAW, BaselineResults, resemble_name
from ivr.catalog.codebook import FORMS
from ivr.paper import load_paper, paper_table


def method_order(results: BaselineResults, pools: tuple[str, ...]) -> list[str]:
    """Rows in Table-3 order, then any further views' rows, then the extra seeded Random draw."""
    names = [RANDOM, GLOBAL] + [resemble_name(p, k) for p in pools for k in ("top 1", "top cluster")]
    names += [n for n in results.rows if n not in names and n != RANDOM_DRAW]
    return [n for n in names + [RANDOM_DRAW] if n in results.rows]


def load_published(path: str | Path | None = None) -> dict[str, Any]:
    """Published figures: the paper's results JSON, which must hold ``table3_methods`` (Table 20 is drawn too).

    Args:
        path: a results.json holding ``table3_methods``; None = the copy shipped with ivr.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a JSON object or lacks ``table3_methods``.
    """
    paper_table("table3_methods", path)  # fail here, naming the file, rather than when the table is drawn
    return load_paper(path)


def columns(setups: list[int]) -> list[str]:
    """Column names: polar P<s>.., polar avg, refined P<s>.., refined avg, all."""
    cols = []
    for form in FORMS:
        cols += [f"{form} P{s}" for s in setups] + [f"{form} avg"]
    return cols + ["all"]


def row_values(row: dict[str, Any]) -> list[float]:
    """A Table-3 row dict flattened in :func:`columns` order."""
    vals: list[float] = []
    for form in FORMS:
        vals += [float(v) for v in row[form]] + [float(row[f"{form}_avg"])]
    return vals + [float(row["all"])]


def published_row(published: dict[str, Any] | None, name: str, setups: list[int]) -> dict[str, Any] | None:
    """The paper's row for ``name`` restricted to ``setups`` (None when the paper has no such row)."""
    if not published or name not in published.get("table3_methods", {}):
        return None
    row = published["table3_methods"][name]
    if setups == [0, 1, 2]:
        return row
    # a subset of setups: keep those columns and recompute the averages over them
    out = {f: [row[f][s] for s in setups if s < len(row[f])] for f in FORMS}
    if any(len(out[f]) != len(setups) for f in FORMS):
        return None
    for f in FORMS:
        out[f"{f}_avg"] = sum(out[f]) / len(out[f])
    out["all"] = (out["polar_avg"] + out["refined_avg"]) / 2
    return out


def table_records(results: BaselineResults, pools: tuple[str, ...], published: dict | None) -> list[dict[str, Any]]:
    """One record per (method, source) with a value per column."""
    setups = results.info["setups"]
    recs = []
    for name in method_order(results, pools):
        recs.append({"method": name, "source": "ours", **dict(zip(columns(setups), row_values(results.rows[name])))})
        paper = published_row(published, name, setups)
        if paper is not None:
            recs.append({"method": name, "source": "paper", **dict(zip(columns(setups), row_values(paper)))})
    return recs


def format_table(results: BaselineResults, pools: tuple[str, ...], published: dict | None = None) -> str:
    """The console table laid out like Table 3 (paper rows beside ours when given)."""
    setups = results.info["setups"]
    heads = [f"P{s}" for s in setups] + ["avg"]
    name_w = max(len(n) for n in method_order(results, pools)) + 8
    top = " " * name_w + "| " + "polar".center(7 * len(heads)) + "| " + "refined".center(7 * len(heads)) + "|   all"
    sub = "method".ljust(name_w) + ("| " + "".join(h.rjust(7) for h in heads)) * 2 + "|" + " " * 7 + "  CPU s"
    lines = [top, sub, "-" * len(sub) + "-" * 7]
    for rec in table_records(results, pools, published):
        label = rec["method"] if rec["source"] == "ours" else "  (paper)"
        vals = [rec[c] for c in columns(setups)]
        n = len(heads)
        cells = ["".join(f"{v:7.2f}" for v in vals[:n]), "".join(f"{v:7.2f}" for v in vals[n : 2 * n])]
        cpu = results.cpu.get(rec["method"], {}).get("cpu_seconds") if rec["source"] == "ours" else None
        lines.append(
            label.ljust(name_w)
            + "| "
            + cells[0]
            + "| "
            + cells[1]
            + f"|{vals[-1]:7.2f}"
            + (f"{cpu:9.1f}" if cpu is not None else "")
        )
    return "\n".join(lines)


def table_csv(results: BaselineResults, pools: tuple[str, ...], published: dict | None) -> str:
    """The table as CSV text (method, source, one column per setup/average)."""
    recs = table_records(results, pools, published)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["method", "source", *columns(results.info["setups"])])
    writer.writeheader()
    for rec in recs:
        writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in rec.items()})
    return buf.getvalue()


def sweep_csv(results: BaselineResults) -> str:
    """The N sweep as CSV: pool, n, polar_avg, refined_avg, all."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["pool", "n", "polar_avg", "refined_avg", "all"])
    for pool, rows in results.sweep.items():
        for n, row in enumerate(rows, 1):
            writer.writerow([pool, n, f"{row['polar_avg']:.4f}", f"{row['refined_avg']:.4f}", f"{row['all']:.4f}"])
    return buf.getvalue()


def results_json(results: BaselineResults, pools: tuple[str, ...], published: dict | None) -> dict[str, Any]:
    """Everything as JSON-ready data: rows, paper rows, reports, sweep, run facts."""
    setups = results.info["setups"]
    out: dict[str, Any] = {"info": results.info, "methods": {}}
    for name in method_order(results, pools):
        entry: dict[str, Any] = {"ours": {**results.rows[name], **results.cpu.get(name, {})}}
        paper = published_row(published, name, setups)
        if paper is not None:
            entry["paper"] = paper
        if name in results.reports:
            report = results.reports[name].to_json()
            entry["report"] = json.loads(report) if isinstance(report, str) else report
        out["methods"][name] = entry
    out["sweep"] = results.sweep
    return out
