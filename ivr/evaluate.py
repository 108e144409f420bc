"""Evaluate reasoners with the protocol: ``python -m ivr.evaluate --config C.yaml (--ckpt_path PATH | --base_model ID)``.

``--ckpt_path`` takes a Lightning checkpoint (``.ckpt`` file or FSDP2 distributed folder) or an
exported HF folder; ``--base_model`` a hub id or folder of a base causal LM, scored zero-shot by the
same choice head. Given both, the base model and the fine-tuned reasoner are printed side by side;
``--published`` adds the paper's figures. ``--config`` is the fit config (its ``data:``, ``model:``
and ``trainer:`` sections are read, its fit-only keys accepted), and every key is a flag
(``--data.limit_eval_people 50``, ``--trainer.accelerator cpu``). Writes ``table.csv``,
``table.json``, one report JSON and one per-group PNG per model into ``--out``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ivr.cli import (
    COMMON_ALIASES, Alias, accept_fit_config, add_output_arguments, add_report_arguments, apply_aliases, entry_point,
    run,
)
from ivr.model.published import published_table3

FORMS = ("polar", "refined")
PROG = "python -m ivr.evaluate"
DEFAULT_OUT = "runs/evaluate"


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
    head = ("method".ljust(width) + "".join(c.replace("polar ", "p ").replace("refined ", "r ").rjust(9) for c in cols)
            + "n".rjust(7) + "CPU s".rjust(9))
    lines = ([convention, ""] if convention else []) + [head, "-" * len(head)]
    for name, row in rows.items():
        n = row.get("n")
        cpu = row.get("cpu_seconds")
        lines.append(name.ljust(width) + "".join(f"{v:9.2f}" for v in row_values(row))
                     + (f"{n:7d}" if n is not None else "      –") + (f"{cpu:9.1f}" if cpu is not None else "        –"))
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
    predictions: dict[str, Any], dm: Any, out: str | Path, with_baselines: bool = True,
    bootstrap: int = 1000, published: bool = False, overwrite: bool = False, flag: str = "--out",
    progress: bool = True, paper: str | Path | None = None, ceiling: bool = True, imputers: bool = False,
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
    from ivr.outputs import check_output, write_output
    from ivr.predict import FixedPredictor, from_datamodule, people_header, run_predictors, table_json_row

    out = Path(out)
    check_output(out, "evaluate", overwrite, flag)
    first_view = dm.eval_views[0]
    models = [FixedPredictor(name, dict(p) if isinstance(p, Mapping) else {first_view: p}, None)
              for name, p in predictions.items()]
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
    scored = run_predictors(predictors, views, bootstrap=bootstrap, seed=dm.hparams.seed,
                            log=(lambda line: print(f"[ivr] {line}", file=sys.stderr)) if progress else None)
    rows = {name: table_json_row(r) for name, r in scored.items()}
    reports = {name: r.report for name, r in scored.items()}
    predictions = {name: r.predictions for name, r in scored.items()}
    model_names = [n for n in rows if any(n == m.name or n.startswith(m.name + " [") for m in models)]
    # reports, predictions and per-group charts are written for the models and the reference rows
    from ivr.ceiling import CEILING, PROFILE_ORACLE

    kept = model_names + [n for n in rows if n.startswith((CEILING, PROFILE_ORACLE))]
    if published:
        rows.update({f"{k} (paper)": v for k, v in published_table3(paper).items() if len(v["polar"]) == len(setups)})
    header = dm.convention(resemble="non_probe" if with_baselines else None) + "\n" + people_header(
        examples, dm.hparams.limit_eval_people)
    text = format_table(rows, setups, header)
    if published:
        text += "\n(paper) rows: Table 3 of the paper"
    intervals = [f"  {name}: " + ", ".join(f"{k.replace('_avg', '')} {lo:.2f}-{hi:.2f}"
                                           for k, (lo, hi) in r["ci"].items())
                 for name, r in rows.items() if r.get("ci")]
    if intervals:
        text += f"\n95% bootstrap intervals ({bootstrap} resamples of people):\n" + "\n".join(intervals)
    from ivr.ceiling import dimension_table, fit_table, gap_lines

    gaps = gap_lines(rows, model_names + [PROFILE_ORACLE])
    if gaps:
        text += "\nPoints to the Bayes ceiling (same people, demonstrations and forms):\n" + "\n".join(gaps)
    gaps = gap_lines(rows, model_names, ceiling=PROFILE_ORACLE)
    if gaps:
        text += ("\nPoints to the profile oracle (the ceiling's profiles, their answer probabilities counted from "
                 "the training people):\n" + "\n".join(gaps))
    if any(r.distribution for r in reports.values()):
        text += ("\n\nCalibration and distributional fit per (question, group): W1 on ordered options / (options - 1), "
                 "JS (base 2) on unordered; 'groups' = mean over the demographic dimensions (0 = exact)\n"
                 + fit_table(reports) + "\n\n" + dimension_table({n: reports[n] for n in kept}))
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


#: Spellings of the previous release, accepted with a deprecation note.
ALIASES = (
    *COMMON_ALIASES,
    Alias("--ckpt", "--ckpt_path"),
    Alias("--model", "--base_model"),
    Alias("--no-baselines", "--baselines", "false"),
    Alias("--accelerator", "--trainer.accelerator"),
)
def build_parser() -> Any:
    """The command line: the fit config's sections plus evaluation's own flags."""
    from lightning import Trainer

    from ivr.cli import IvrLightningParser
    from ivr.data.datamodule import IVRDataModule
    from ivr.model.module import IndieValueReasoner

    p = IvrLightningParser(prog=PROG, description=__doc__.split("\n")[0], exit_on_error=True)
    from jsonargparse import ActionConfigFile

    p.add_argument("--config", action=ActionConfigFile, help="the fit config (its data/model/trainer sections)")
    p.add_argument("--ckpt_path", type=str | None, default=None,
                   help="reasoner checkpoint (.ckpt, FSDP2 distributed folder or exported HF folder)")
    p.add_argument("--base_model", type=str | None, default=None,
                   help="base causal LM (hub id or folder), scored zero-shot by --model.score (choice head by default)")
    p.add_argument("--baselines", type=bool, default=True, nargs="?", const=True,
                   help="print Global-majority and Resemble rows on the same people")
    p.add_argument("--imputers", type=bool, default=False, nargs="?", const=True,
                   help="with --baselines, also the classical imputers (gradient-boosted trees, latent traits, "
                        f"{IMPUTER_LATENT_CLASSES} latent classes)")
    p.add_argument("--ceiling", type=bool, default=True, nargs="?", const=True,
                   help="on a synthetic catalog, print the exact Bayes row on the same people and the gap to it")
    add_report_arguments(p, bootstrap=1000)
    add_output_arguments(p, DEFAULT_OUT, "evaluation folder")
    p.add_lightning_class_args(IVRDataModule, "data")
    p.add_lightning_class_args(IndieValueReasoner, "model")
    p.add_lightning_class_args(Trainer, "trainer")
    accept_fit_config(p, sections=(), skip=("ckpt_path", "baselines", "bootstrap", "imputers"))
    return p


def test_views(trainer: Any, module: Any, dm: Any, ckpt_path: str | None = None, verbose: bool = True) -> dict[str, Any]:
    """``trainer.test`` once per evaluation view of the data module (``eval_forms: all`` has two).

    Returns:
        view -> the test people's ``Predictions`` (on every rank; rows of all ranks).
    """
    out = {}
    for view in dm.eval_views:
        dm.set_eval_view(view)
        trainer.test(module, datamodule=dm, ckpt_path=ckpt_path, verbose=verbose)
        out[view] = module.test_predictions
    dm.set_eval_view(dm.eval_views[0])
    return out


def predict(module: Any, dm: Any, trainer_cfg: dict[str, Any], progress: bool = True) -> dict[str, Any]:
    """Run the test split through ``module`` on one device; returns {evaluation view: ``Predictions``}."""
    import lightning as L

    from callbacks.progress import progress_callbacks

    keep = {k: trainer_cfg[k] for k in ("accelerator", "precision") if trainer_cfg.get(k) is not None}
    trainer = L.Trainer(**{"accelerator": "auto", **keep}, devices=1, logger=False, enable_checkpointing=False,
                        callbacks=progress_callbacks(progress), enable_progress_bar=progress)
    return test_views(trainer, module, dm, verbose=False)


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Evaluate; expected failures raise :class:`ivr.errors.IvrError`."""
    from ivr.cli import check_model_path, quiet_noise
    from ivr.errors import ConfigError

    quiet_noise()
    argv = apply_aliases(list(sys.argv[1:] if argv is None else argv), ALIASES, PROG)
    cfg = build_parser().parse_args(argv)
    if not cfg.ckpt_path and not cfg.base_model:
        raise ConfigError(f"{PROG}: give --ckpt_path PATH, --base_model PATH_OR_ID, or both")
    from ivr.model.export import is_distributed_checkpoint, reasoner_from_checkpoint
    from ivr.outputs import check_output

    check_output(cfg.out, "evaluate", cfg.overwrite)  # before loading anything
    if cfg.base_model:
        check_model_path(cfg.base_model, "--base_model")
    if cfg.ckpt_path and not Path(cfg.ckpt_path).exists():
        raise ConfigError(f"--ckpt_path {cfg.ckpt_path}: no such checkpoint file or folder")
    from ivr.data.datamodule import IVRDataModule
    from ivr.model.module import IndieValueReasoner

    data = cfg.data.as_dict() if hasattr(cfg.data, "as_dict") else dict(cfg.data)
    check_model_path(data.get("tokenizer", "statement"), "--data.tokenizer", allow=("statement",))
    from ivr.model.loglik import check_score_layout

    if cfg.base_model:  # before any loading (a checkpoint's own score mode is checked once it is read)
        check_score_layout(str(cfg.model.score), str(data.get("score_layout", "label")))
    dm = IVRDataModule(**data)
    dm.setup("test")
    score = cfg.model.score
    modules: dict[str, Any] = {}
    if cfg.base_model:
        modules[f"{Path(cfg.base_model).name} (zero-shot)"] = IndieValueReasoner(model_name_or_path=cfg.base_model,
                                                                                  score=score)
    if cfg.ckpt_path:
        ckpt = Path(cfg.ckpt_path)
        if ckpt.is_dir() and (ckpt / "config.json").is_file() and not is_distributed_checkpoint(ckpt):
            modules[f"{ckpt.name} (reasoner)"] = IndieValueReasoner(model_name_or_path=str(ckpt), score=score)
        else:
            modules["IndieValueReasoner"] = reasoner_from_checkpoint(ckpt)
    for name, m in modules.items():
        flag = "model.score" if name != "IndieValueReasoner" else f"model.score (of {cfg.ckpt_path})"
        check_score_layout(str(m.hparams.score), dm.hparams.score_layout, (flag, "data.score_layout"))
    trainer_cfg = cfg.trainer.as_dict() if hasattr(cfg.trainer, "as_dict") else dict(cfg.trainer or {})
    preds = {name: predict(m, dm, trainer_cfg, cfg.progress) for name, m in modules.items()}
    return report_run(preds, dm, cfg.out, with_baselines=cfg.baselines, bootstrap=cfg.bootstrap,
                      published=cfg.published, overwrite=cfg.overwrite, progress=cfg.progress, paper=cfg.paper,
                      ceiling=cfg.ceiling, imputers=cfg.imputers)


def cli(argv: list[str] | None = None) -> int:
    """``main`` under the error contract (exit status 2 and one ``error:`` line on bad input)."""
    return run(main, argv)


if __name__ == "__main__":
    entry_point(main)
