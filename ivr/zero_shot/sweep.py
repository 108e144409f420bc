"""Several models in one command (``models:`` in configs/zero_shot_api.yaml), reported side by side.

Each model runs as its own zero-shot run in ``OUT/<label>/`` (its own resumable cache, results and
table); the combined ``OUT/results.json``, ``OUT/table14.md`` (Table 14 layout, with the paper's
row beside each model that names one), ``OUT/table2.md`` (σINEQUITY, Table 2 layout, paper beside)
and ``OUT/figure2.png`` (accuracy against demonstrations) cover every model that finished. A model
that fails (a retired model, an exhausted quota) does not stop the others; the command then ends
with one error listing what did not finish, which a re-run resumes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.errors import IvrError
from ivr.paper import paper_table
from ivr.zero_shot.backends import BackendOptions
from ivr.zero_shot.report import plot_figure2, table14

ENGINE_OVERRIDES = ("base_url", "api_key_env", "max_model_len", "json_mode", "price_input", "price_output", "tokenizer")


@dataclass
class ModelEntry:
    """One model of a list run; unset fields take the command's ``--backend`` / ``--engine.*`` values.

    Attributes:
        model: the model name the server knows (or a folder / hub id for hf / vllm).
        label: name in tables, output sub-folder and cache key (default: model).
        paper_row: the paper's row to print beside it (a Table 14 / Table 2 name, e.g. "GPT-4o (0806)").
        backend: hf, vllm, openai or anthropic.
        base_url, api_key_env, max_model_len, json_mode, price_input, price_output, tokenizer:
            as ``--engine.*`` (the key itself is only ever read from the named environment variable).
    """

    model: str
    label: str | None = None
    paper_row: str | None = None
    backend: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    max_model_len: int | None = None
    json_mode: bool | None = None
    price_input: float | None = None
    price_output: float | None = None
    tokenizer: str | None = None

    def name(self) -> str:
        return self.label or self.model

    def engine(self, base: BackendOptions) -> BackendOptions:
        """``base`` with this entry's overrides."""
        return dataclasses.replace(
            base, **{k: getattr(self, k) for k in ENGINE_OVERRIDES if getattr(self, k) is not None}
        )


def folder_name(label: str) -> str:
    """A label as a folder name: ``GPT-4o (0806)`` -> ``GPT-4o_0806``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "model"


def run_models(
    entries: list[ModelEntry],
    run_one: Callable[..., list[dict[str, Any]]],
    out: str,
    backend: str,
    published: bool,
    paper: str | None = None,
    overwrite: bool = False,
    config_text: str | None = None,
    **common: Any,
) -> list[dict[str, Any]]:
    """Run each model with ``run_one`` (:func:`ivr.zero_shot.__main__.zero_shot`) and write the combined report.

    Args:
        entries: the models.
        run_one: the single-model run.
        out: the output folder (one sub-folder per model); new, or an earlier list run's (resumed).
        backend: the default backend.
        published: the paper's figures beside ours.
        paper: the paper's results.json (default: the packaged copy).
        overwrite: allow ``out`` to replace an ivr output of another kind.
        config_text: the resolved settings, written to ``out/config.yaml``.
        **common: the rest of ``run_one``'s arguments (data, scoring, probe, engine, limits, ...).

    Raises:
        IvrError: labels that clash, unknown paper rows, or models that did not finish (after the others ran).
    """
    from ivr.locks import RunLock
    from ivr.outputs import claim_output

    folders = [folder_name(e.name()) for e in entries]
    if len(set(folders)) != len(folders):
        raise IvrError(f"models: labels {[e.name() for e in entries]} must give distinct folder names; set label:")
    paper14 = paper_table("table14_zero_shot_polar", paper)
    unknown = [e.paper_row for e in entries if e.paper_row and e.paper_row not in paper14]
    if unknown:
        raise IvrError(f"models: paper_row {unknown} not in the paper's Table 14; use one of {sorted(paper14)}")
    engine = common.pop("engine") or BackendOptions()
    out_dir = claim_output(out, "zero_shot_models", overwrite)
    results, failed = [], []
    with RunLock(out_dir, flag="--out", info={"kind": "zero_shot_models"}):  # the models' folders below it too
        if config_text is not None:
            from ivr.outputs import write_text

            write_text(out_dir / "config.yaml", config_text)
        for entry, folder in zip(entries, folders, strict=True):
            try:
                res = run_one(
                    entry.model,
                    out=str(Path(out) / folder),
                    backend=entry.backend or backend,
                    engine=entry.engine(engine),
                    model_label=entry.name(),
                    published=published,
                    paper=paper,
                    lock=False,
                    **common,
                )
            except IvrError as err:
                failed.append(f"{entry.name()}: {err}")
                continue
            results += [{**r, "paper_row": entry.paper_row} for r in res]
        if results:
            write_combined(results, out_dir, published, paper)
    if failed:
        raise IvrError(
            "these models did not finish (what they answered is cached; re-run to resume):\n  " + "\n  ".join(failed)
        )
    return results


def _cells(vals: list[float | None]) -> str:
    return " | ".join("—" if v is None else f"{v:.2f}" for v in vals)


def _is_table14_condition(res: dict[str, Any]) -> bool:
    return res["demos"] == 200 and res["demo_form"] == "polar" and res["demographics"] == "none"


def side_by_side(results: list[dict[str, Any]], paper14: dict[str, Any]) -> str:
    """Table 14 (polar probes, P0-P2, Avg) per model and condition, the paper's row beside at 200 polar demos."""
    lines = [
        "| model | condition | P0 | P1 | P2 | Avg | paper P0 | paper P1 | paper P2 | paper Avg | Δ Avg | "
        "parse fail % | cost USD |",
        "|---" * 13 + "|",
    ]
    for res in results:
        row = res["table3_row"]
        by_setup = dict(zip(res["report"]["setups"], row.get("polar") or [], strict=False))
        ours = [by_setup.get(s) for s in (0, 1, 2)] + [row.get("polar_avg")]
        theirs = paper14.get(res.get("paper_row") or "") if _is_table14_condition(res) else None
        theirs = list(theirs) if theirs else [None] * 4
        delta = None if None in (ours[3], theirs[3]) else ours[3] - theirs[3]
        cost = (res.get("usage") or {}).get("cost_usd")
        lines.append(
            f"| {res['model']} | {res['label']} ({res['scoring']}) | {_cells(ours)} | {_cells(theirs)} | "
            f"{'—' if delta is None else f'{delta:+.2f}'} | {100 * res['parse_failure_rate']:.1f} | "
            f"{'—' if cost is None else f'{cost:,.2f}'} |"
        )
    return "\n".join(lines) + "\n"


def table2(results: list[dict[str, Any]], paper2: dict[str, Any]) -> str:
    """σINEQUITY (polar probes) per model and condition with its 95 % interval, the paper's Table 2 beside."""
    lines = ["| model | condition | people | σINEQUITY | 95 % interval | paper | Δ |", "|---" * 7 + "|"]
    for res in results:
        rep = res["report"]
        sigma = (rep.get("inequity_by_form", {}).get("polar") or {}).get("index")
        low_high = rep.get("ci", {}).get("inequity/polar")
        theirs = paper2.get(res.get("paper_row") or "") if _is_table14_condition(res) else None
        delta = None if sigma is None or theirs is None else sigma - theirs
        ci = "—" if not low_high or None in low_high else f"[{low_high[0]:.2f}, {low_high[1]:.2f}]"
        lines.append(
            f"| {res['model']} | {res['label']} | {rep.get('counts', {}).get('people', '—')} | "
            f"{'—' if sigma is None else f'{sigma:.2f}'} | {ci} | {'—' if theirs is None else f'{theirs:.2f}'} | "
            f"{'—' if delta is None else f'{delta:+.2f}'} |"
        )
    return "\n".join(lines) + "\n"


def write_combined(results: list[dict[str, Any]], out: Path, published: bool, path: str | None = None) -> None:
    """OUT/results.json, table14.md (all rows + side by side), table2.md and figure2.png for every model."""
    from ivr.outputs import write_json, write_text
    from ivr.zero_shot.report import load_published

    paper = load_published(path) if published else None
    paper14 = dict(paper_table("table14_zero_shot_polar", path)) if published else {}
    paper2 = dict(paper_table("table2_inequity_index", path)) if published else {}
    write_json(out / "results.json", results)
    text = (
        "## Table 14 layout: our models beside the paper's rows (polar probes)\n\n"
        + side_by_side(results, paper14)
        + "\n## Every condition, with the paper's zero-shot rows\n\n"
        + table14(results, paper)
    )
    write_text(out / "table14.md", text)
    write_text(
        out / "table2.md",
        "## Table 2 layout: Value Inequity Index σINEQUITY (polar probes; lower is more "
        "equitable)\n\n" + table2(results, paper2),
    )
    plot_figure2(results, out / "figure2.png", paper)
    print(text)
