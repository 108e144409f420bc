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

import sys
from pathlib import Path
from typing import Any

from ivr.cli import (
    COMMON_ALIASES,
    Alias,
    accept_fit_config,
    add_output_arguments,
    add_report_arguments,
    apply_aliases,
    drop_fit_output,
    entry_point,
    run,
)
from ivr.predict.report import IMPUTER_LATENT_CLASSES, report_run

PROG = "python -m ivr.evaluate"
DEFAULT_OUT = "runs/evaluate"


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
    p.add_argument(
        "--ckpt_path",
        type=str | None,
        default=None,
        help="reasoner checkpoint (.ckpt, FSDP2 distributed folder or exported HF folder)",
    )
    p.add_argument(
        "--base_model",
        type=str | None,
        default=None,
        help="base causal LM (hub id or folder), scored zero-shot by --model.score (choice head by default)",
    )
    p.add_argument(
        "--baselines",
        type=bool,
        default=True,
        nargs="?",
        const=True,
        help="print Global-majority and Resemble rows on the same people",
    )
    p.add_argument(
        "--imputers",
        type=bool,
        default=False,
        nargs="?",
        const=True,
        help="with --baselines, also the classical imputers (gradient-boosted trees, latent traits, "
        f"{IMPUTER_LATENT_CLASSES} latent classes)",
    )
    p.add_argument(
        "--ceiling",
        type=bool,
        default=True,
        nargs="?",
        const=True,
        help="on a synthetic catalog, print the exact Bayes row on the same people and the gap to it",
    )
    add_report_arguments(p, bootstrap=1000)
    add_output_arguments(p, DEFAULT_OUT, "evaluation folder")
    p.add_lightning_class_args(IVRDataModule, "data")
    p.add_lightning_class_args(IndieValueReasoner, "model")
    p.add_lightning_class_args(Trainer, "trainer")
    accept_fit_config(p, sections=(), skip=("ckpt_path", "baselines", "bootstrap", "imputers"))
    return p


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Evaluate; expected failures raise :class:`ivr.errors.IvrError`."""
    from ivr.cli import check_model_path, quiet_noise
    from ivr.errors import ConfigError

    quiet_noise()
    argv = drop_fit_output(apply_aliases(list(sys.argv[1:] if argv is None else argv), ALIASES, PROG))
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
        modules[f"{Path(cfg.base_model).name} (zero-shot)"] = IndieValueReasoner(
            model_name_or_path=cfg.base_model, score=score
        )
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
    from ivr.model.evaluation import predict_views

    preds = {name: predict_views(m, dm, trainer_cfg, cfg.progress) for name, m in modules.items()}
    return report_run(
        preds,
        dm,
        cfg.out,
        with_baselines=cfg.baselines,
        bootstrap=cfg.bootstrap,
        published=cfg.published,
        overwrite=cfg.overwrite,
        progress=cfg.progress,
        paper=cfg.paper,
        ceiling=cfg.ceiling,
        imputers=cfg.imputers,
    )


def cli(argv: list[str] | None = None) -> int:
    """``main`` under the error contract (exit status 2 and one ``error:`` line on bad input)."""
    return run(main, argv)


if __name__ == "__main__":
    entry_point(main)
