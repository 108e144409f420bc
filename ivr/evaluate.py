"""Evaluate reasoners with the protocol: ``python -m ivr.evaluate --config C.yaml (--ckpt PATH | --model ID)``.

``--ckpt`` takes a Lightning checkpoint (``.ckpt`` file or FSDP2 distributed folder) or an exported HF
folder; ``--model`` a hub id or folder of a base causal LM, scored zero-shot by the same choice head.
Given both, the base model and the fine-tuned reasoner are printed side by side; ``--published`` adds
the paper's figures. The data side comes from the config's ``data:`` section, overridable with
``--data.key value``. Writes ``table.csv``, ``table.json``, one report JSON and one per-group PNG per model.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ivr.model.published import PUBLISHED_TABLE3

FORMS = ("polar", "refined")
BASELINE_ROWS = ("Global (majority vote)", "Resemble (all, top 1)", "Resemble (all, top cluster)")


def table_columns(setups: list[int]) -> list[str]:
    """``polar P0 .. polar avg, refined P0 .. refined avg, all``."""
    return [c for f in FORMS for c in [f"{f} P{s}" for s in setups] + [f"{f} avg"]] + ["all"]


def row_values(row: dict[str, Any]) -> list[float]:
    """A Table-3 row (``ivr.metrics.Report.table3_row``) flattened in :func:`table_columns` order."""
    return [float(v) for f in FORMS for v in [*row[f], row[f"{f}_avg"]]] + [float(row["all"])]


def format_table(rows: dict[str, dict[str, Any]], setups: list[int], convention: str | None = None) -> str:
    """Console table laid out like Table 3, under the header naming the evaluation convention.

    Args:
        rows: name -> Table-3 row.
        setups: the setups scored.
        convention: header lines every row follows (:func:`ivr.data.conventions.convention_header`).
    """
    cols = table_columns(setups)
    width = max([len(n) for n in rows] + [6]) + 2
    head = "method".ljust(width) + "".join(c.replace("polar ", "p ").replace("refined ", "r ").rjust(9) for c in cols)
    lines = ([convention, ""] if convention else []) + [head, "-" * len(head)]
    for name, row in rows.items():
        lines.append(name.ljust(width) + "".join(f"{v:9.2f}" for v in row_values(row)))
    return "\n".join(lines)


def baseline_rows(dm: Any, eval_rows: Any, setups: list[int], bootstrap: int) -> dict[str, dict[str, Any]]:
    """Global-majority and Resemble rows on the same eval people, in the data module's evaluation
    convention (``eval_forms``; empty when ``baselines`` is missing)."""
    import dataclasses

    try:
        from baselines.run import BaselineConfig, resemble_name, run_baselines
    except ImportError as err:
        print(f"[ivr] baselines unavailable ({err}); printing the model rows only", file=sys.stderr)
        return {}
    from ivr.data.conventions import eval_views

    split = dataclasses.replace(dm.split, eval_rows=eval_rows)
    hp = dm.hparams
    config = BaselineConfig(setups=tuple(setups), pools=("all",), bootstrap=bootstrap, progress=True, seed=hp.seed,
                            eval_forms=hp.eval_forms, demo_count=str(hp.eval_demo_count))
    res = run_baselines(dm.catalog, split, config)
    views = eval_views(hp.eval_forms)
    names = [BASELINE_ROWS[0]] + [resemble_name("all", k, v, views) for v in views for k in ("top 1", "top cluster")]
    return {name: res.rows[name] for name in names if name in res.rows}


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "model"


def report_run(
    predictions: dict[str, Any], dm: Any, out: str | Path, with_baselines: bool = True,
    bootstrap: int = 1000, published: bool = False,
) -> dict[str, dict[str, Any]]:
    """Score each model's test predictions, add baseline / paper rows, print and write the table.

    Args:
        predictions: model name -> ``ivr.metrics.Predictions`` on the test people, or -> {evaluation view:
            Predictions} (:func:`test_views`; a later view's row is named ``name [view]``).
        dm: the set-up data module (catalog, split, evaluation convention).
        out: output folder.
        with_baselines: add Global-majority and Resemble rows on the same people.
        bootstrap: bootstrap resamples for the confidence intervals.
        published: add the paper's Table-3 rows.

    Returns:
        name -> Table-3 row of every printed row.
    """
    from ivr.data.conventions import row_name
    from ivr.metrics import evaluate_predictions, plot_per_group

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, Any]] = {}
    setups: list[int] = []
    flat: dict[str, Any] = {}
    for name, preds in predictions.items():
        if isinstance(preds, Mapping):
            views = tuple(preds)
            flat.update({row_name(name, v, views): p for v, p in preds.items()})
        else:
            flat[name] = preds
    predictions = flat
    for name, preds in predictions.items():
        report = evaluate_predictions(preds, dm.catalog, bootstrap=bootstrap)
        rows[name] = report.table3_row()
        setups = report.setups
        report.to_json(out / f"{slug(name)}_report.json")
        preds.save(out / f"{slug(name)}_predictions.npz")
        if report.per_group:
            plot_per_group(report, out / f"{slug(name)}_per_group.png")
    first = next(iter(predictions.values()))
    if with_baselines:
        import numpy as np

        rows.update(baseline_rows(dm, np.unique(first.person), setups, bootstrap=0))
    if published:
        rows.update({f"{k} (paper)": v for k, v in PUBLISHED_TABLE3.items() if len(v["polar"]) == len(setups)})
    text = format_table(rows, setups, dm.convention(resemble="non_probe" if with_baselines else None))
    print(f"\nTest people: {len(set(first.person.tolist()))}; accuracy in percent\n{text}\n")
    (out / "table.txt").write_text(text + "\n")
    import pandas as pd

    frame = pd.DataFrame([row_values(r) for r in rows.values()], index=list(rows), columns=table_columns(setups))
    frame.index.name = "method"
    frame.to_csv(out / "table.csv", float_format="%.2f")
    (out / "table.json").write_text(json.dumps(rows, indent=2))
    print(f"[ivr] wrote {out}/table.csv, table.json and per-model reports / per-group plots")
    return rows


def _overrides(rest: list[str]) -> dict[str, Any]:
    """``--data.key value`` pairs -> {key: yaml-typed value}."""
    out, i = {}, 0
    while i < len(rest):
        flag = rest[i]
        key, eq, val = flag.partition("=")
        if not key.startswith("--data.") or (not eq and i + 1 >= len(rest)):
            raise SystemExit(f"unrecognised argument {flag!r}: only --data.<key> <value> overrides are accepted")
        if not eq:
            val, i = rest[i + 1], i + 1
        out[key[len("--data."):]] = yaml.safe_load(val)
        i += 1
    return out


def test_views(trainer: Any, module: Any, dm: Any, ckpt_path: str | None = None) -> dict[str, Any]:
    """``trainer.test`` once per evaluation view of the data module (``eval_forms: all`` has two).

    Returns:
        view -> the test people's ``Predictions`` (on every rank; rows of all ranks).
    """
    out = {}
    for view in dm.eval_views:
        dm.set_eval_view(view)
        trainer.test(module, datamodule=dm, ckpt_path=ckpt_path)
        out[view] = module.test_predictions
    dm.set_eval_view(dm.eval_views[0])
    return out


def predict(module: Any, dm: Any, accelerator: str) -> dict[str, Any]:
    """Run the test split through ``module`` on one device; returns {evaluation view: ``Predictions``}."""
    import lightning as L
    from lightning.pytorch.callbacks import RichProgressBar

    trainer = L.Trainer(accelerator=accelerator, devices=1, logger=False, callbacks=[RichProgressBar()],
                        enable_checkpointing=False)
    return test_views(trainer, module, dm)


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the fit config (its data: section is used)")
    parser.add_argument("--ckpt", help="reasoner checkpoint (.ckpt, distributed folder or exported HF folder)")
    parser.add_argument("--model", help="base causal LM (hub id or folder), scored zero-shot")
    parser.add_argument("--out", default="outputs/eval", help="output folder")
    parser.add_argument("--published", action="store_true", help="print the paper's Table-3 rows beside")
    parser.add_argument("--no-baselines", action="store_true", help="skip the Global / Resemble rows")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--accelerator", default="auto")
    args, rest = parser.parse_known_args(argv)
    if not args.ckpt and not args.model:
        parser.error("give --ckpt PATH, --model PATH_OR_ID, or both")
    config = yaml.safe_load(Path(args.config).read_text()) or {}
    from ivr.data.datamodule import IVRDataModule
    from ivr.model.export import is_distributed_checkpoint, reasoner_from_checkpoint
    from ivr.model.module import IndieValueReasoner

    dm = IVRDataModule(**{**(config.get("data") or {}), **_overrides(rest)})
    dm.setup("test")
    score = (config.get("model") or {}).get("score", "choice")
    modules: dict[str, Any] = {}
    if args.model:
        modules[f"{Path(args.model).name} (zero-shot)"] = IndieValueReasoner(model_name_or_path=args.model, score=score)
    if args.ckpt:
        ckpt = Path(args.ckpt)
        if ckpt.is_dir() and (ckpt / "config.json").is_file() and not is_distributed_checkpoint(ckpt):
            modules[f"{ckpt.name} (reasoner)"] = IndieValueReasoner(model_name_or_path=str(ckpt), score=score)
        else:
            modules["IndieValueReasoner"] = reasoner_from_checkpoint(ckpt)
    preds = {name: predict(m, dm, args.accelerator) for name, m in modules.items()}
    return report_run(preds, dm, args.out, with_baselines=not args.no_baselines, bootstrap=args.bootstrap,
                      published=args.published)


if __name__ == "__main__":
    main()
