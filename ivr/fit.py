"""Fine-tune an IndieValueReasoner: ``python -m ivr.fit --config configs/tiny.yaml [--section.key value ...]``.

Parse (LightningCLI: the YAML maps onto the typed ``__init__`` arguments of ``IndieValueReasoner``,
``IVRDataModule`` and ``Trainer``) -> check the checkpoint folder and take its run lock -> choose the
strategy -> fit (``--ckpt_path last`` resumes, naming the file and run) -> evaluate the test people
with the protocol and print the Table-3-style table with the Global-majority and Resemble baselines
beside it and, on a synthetic catalog, the exact Bayes ceiling (``--ceiling false`` leaves it out).
On a GPU node: ``torchrun --nproc_per_node 8 -m ivr.fit --config configs/llama31_8b_fsdp.yaml``.
Expected failures print one ``error:`` line (exit status 2); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from lightning.pytorch.cli import LightningCLI

from ivr.cli import COMMON_ALIASES, apply_aliases, check_model_path, entry_point, lightning_parser_class, quiet_noise
from ivr.data.datamodule import IVRDataModule
from ivr.model.build import tokenizer_size
from ivr.model.loglik import check_score_layout
from ivr.model.module import IndieValueReasoner
from ivr.model.statement_set import check_statement_set
from ivr.model.strategy import choose_strategy
from ivr.settings import Count0

PROG = "python -m ivr.fit"


RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")


def is_global_zero() -> bool:
    """The first process of a launch (torchrun, Lightning's own launcher, SLURM) or a single process:
    the one that checks and locks the checkpoint folder (Lightning starts the other ranks with
    ``LOCAL_RANK`` set, torchrun with ``RANK``)."""
    return all(os.environ.get(name, "0") == "0" for name in RANK_VARIABLES)


class ReasonerCLI(LightningCLI):
    """LightningCLI with the strategy rule, the tokenizer -> vocab link, the checkpoint-folder rules and
    the post-fit evaluation flags."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument(
            "--ckpt_path",
            type=str | None,
            default=None,
            help="resume from: 'last' or 'best' (in --checkpoint_dir) or a checkpoint path",
        )
        parser.add_argument(
            "--evaluate",
            type=bool,
            default=True,
            help="after fit, run the protocol on the test people and print the table",
        )
        parser.add_argument(
            "--eval_ckpt",
            type=str,
            default="best",
            help="weights for the evaluation: 'best', 'last' or 'current' (in memory)",
        )
        parser.add_argument(
            "--baselines", type=bool, default=True, help="print Global-majority and Resemble rows beside the model"
        )
        parser.add_argument(
            "--imputers",
            type=bool,
            default=False,
            help="with --baselines, also the classical imputers (gradient-boosted trees, latent traits)",
        )
        parser.add_argument(
            "--ceiling",
            type=bool,
            default=True,
            help="on a synthetic catalog, print the exact Bayes row on the same people and the gap",
        )
        parser.add_argument("--bootstrap", type=Count0, default=1000, help="bootstrap resamples for the CIs")
        parser.add_argument(
            "--out",
            type=str | None,
            default=None,
            help="folder of the evaluation written after fit: table.txt/csv/json, per-model reports, "
            "predictions and per-group plots (default: <log dir>/eval); a new folder or an "
            "earlier evaluation output",
        )
        parser.add_argument(
            "--report_dir",
            type=str | None,
            default=None,
            help="deprecated spelling of --out (accepted until the next release)",
        )
        parser.add_argument(
            "--checkpoint_dir",
            type=str,
            default="checkpoints/run",
            help="folder of the best and last checkpoints (one run per folder)",
        )
        parser.add_argument(
            "--save_every_n_steps",
            type=int,
            default=50,
            help="refresh last.ckpt every N optimiser steps (0 = only at validation)",
        )
        parser.add_argument(
            "--overwrite",
            type=bool,
            default=False,
            help="a fresh run may delete the checkpoints of an earlier run in --checkpoint_dir",
        )
        parser.set_defaults({"trainer.use_distributed_sampler": False})  # the data sampler shards itself
        parser.link_arguments("data", "model.vocab_size", compute_fn=tokenizer_size, apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        cfg = self.config
        # a mistyped tokenizer folder is named, not reported as an invalid hub id
        check_model_path(str(cfg.data.tokenizer), "--data.tokenizer", allow=("statement",))
        if cfg.model.get("model_name_or_path"):
            check_model_path(str(cfg.model.model_name_or_path), "--model.model_name_or_path")
        check_score_layout(str(cfg.model.score), str(cfg.data.score_layout))
        check_statement_set(cfg.model.get("model_config"), str(cfg.model.score), str(cfg.data.tokenizer))
        logger = cfg.trainer.get("logger")
        if logger is not None and not isinstance(logger, bool):  # no hp_metric placeholder in TensorBoard
            entries = logger if isinstance(logger, list) else [logger]
            for entry in entries:
                if str(entry.get("class_path", "")).endswith("TensorBoardLogger") and entry.get("init_args"):
                    entry.init_args.default_hp_metric = False
        out, out_flag = report_out(cfg, note=is_global_zero())
        self.run_lock = None
        if is_global_zero():
            from ivr.checkpoints import claim_checkpoint_dir
            from ivr.outputs import check_output

            if cfg.evaluate and out:  # a report folder that will be refused: before training
                check_output(out, "evaluate", flag=out_flag)
            config = [str(p) for p in (cfg.get("config") or [])]
            # the lock is taken before anything in the folder is touched (held until main ends)
            self.run_lock = claim_checkpoint_dir(
                cfg.checkpoint_dir,
                resume=cfg.ckpt_path is not None,
                overwrite=cfg.overwrite,
                info={"config": ", ".join(config), "command": " ".join(sys.argv)},
            )

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except BaseException:
            if getattr(self, "run_lock", None) is not None:
                self.run_lock.release()
            raise

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        from callbacks.checkpointing import checkpoint_callbacks  # plug-ins: imported when used (CONTRACTS.md §1)
        from callbacks.progress import plain_when_not_a_terminal

        # one rule for every config: 1 device -> auto, more -> FSDP2 (ModelParallelStrategy)
        trainer_cfg = self._get(self.config_init, "trainer")
        trainer_cfg["strategy"] = choose_strategy(
            trainer_cfg.get("strategy", "auto"),
            trainer_cfg.get("devices", "auto"),
            trainer_cfg.get("num_nodes", 1),
            trainer_cfg.get("accelerator", "auto"),
        )
        callbacks = list(trainer_cfg.get("callbacks") or [])
        if trainer_cfg.get("enable_checkpointing", True) is not False:
            cfg = self.config_init
            callbacks += checkpoint_callbacks(cfg["checkpoint_dir"], cfg["save_every_n_steps"])
        if trainer_cfg.get("enable_progress_bar", True) is not False:
            callbacks = plain_when_not_a_terminal(callbacks)
        trainer_cfg["callbacks"] = callbacks
        return super().instantiate_trainer(**kwargs)


def report_out(cfg: Any, note: bool = False) -> tuple[str | None, str]:
    """The evaluation folder the user chose (None = ``<log dir>/eval``) and the flag that named it: ``--out``,
    or its deprecated spelling ``--report_dir`` (a deprecation note when ``note``).

    Raises:
        ConfigError: both were given, naming different folders.
    """
    from ivr.cli import deprecation
    from ivr.errors import ConfigError

    old = cfg.get("report_dir")
    if old is None:
        return cfg.get("out"), "--out"
    if note:
        deprecation(PROG, "--report_dir", "--out")
    if cfg.get("out") is not None and Path(cfg.out) != Path(old):
        raise ConfigError(
            f"--report_dir {old} and --out {cfg.out}: give only --out (--report_dir is its deprecated spelling)"
        )
    return old, "--report_dir"


def eval_checkpoint(trainer: Any, choice: str) -> str | None:
    """The checkpoint path ``trainer.test`` should load (None = the weights in memory)."""
    if choice == "current":
        return None
    cb = trainer.checkpoint_callback
    path = getattr(cb, "best_model_path", "") if choice == "best" else getattr(cb, "last_model_path", "")
    if not path:
        for other in trainer.checkpoint_callbacks:  # the 'last' saver may be a separate callback
            path = getattr(other, "best_model_path" if choice == "best" else "last_model_path", "") or path
    return path or None


def main(args: list[str] | None = None) -> dict[str, Any] | None:
    """Run the CLI; returns the model's Table-3 row (rank 0, when evaluated)."""
    from ivr.checkpoints import resolve_ckpt_path

    quiet_noise()
    args = apply_aliases(list(sys.argv[1:] if args is None else args), COMMON_ALIASES, PROG)
    cli = ReasonerCLI(
        IndieValueReasoner,
        IVRDataModule,
        run=False,
        args=args,
        seed_everything_default=0,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"description": __doc__, "prog": PROG},
        parser_class=lightning_parser_class(),
    )
    cfg = cli.config
    trainer, model, dm = cli.trainer, cli.model, cli.datamodule
    log_dir = getattr(trainer.logger, "log_dir", None)  # the logger's own (not collective) answer
    lock = getattr(cli, "run_lock", None)  # rank 0's, taken before the checkpoint folder was prepared
    with contextlib.closing(lock) if lock is not None else contextlib.nullcontext():
        if is_global_zero() and cfg.ckpt_path is None:
            from ivr.checkpoints import note_run

            note_run(cfg.checkpoint_dir, log_dir=str(log_dir or ""))
        ckpt_path = (
            resolve_ckpt_path(cfg.ckpt_path, cfg.checkpoint_dir)
            if is_global_zero()
            else (_resume_path(cfg.ckpt_path, cfg.checkpoint_dir))
        )
        trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
        if not cfg.evaluate:
            return None
        from ivr.model.evaluation import test_views

        # one trainer.test per evaluation view (eval_forms: all has two)
        tested = eval_checkpoint(trainer, cfg.eval_ckpt)
        if tested and trainer.is_global_zero:
            from ivr.checkpoints import describe

            print(
                f"[ivr] testing the {cfg.eval_ckpt} checkpoint (--eval_ckpt): "
                f"{describe(Path(tested), Path(cfg.checkpoint_dir))}",
                file=sys.stderr,
            )
        preds = test_views(trainer, model, dm, ckpt_path=tested)
    log_dir = trainer.log_dir  # collective under FSDP: every rank asks
    if not trainer.is_global_zero:
        return None
    from ivr.predict.report import report_run

    chosen, flag = report_out(cfg)
    out = Path(chosen) if chosen else Path(log_dir or trainer.default_root_dir) / "eval"
    return report_run(
        {"IndieValueReasoner": preds},
        dm,
        out,
        with_baselines=cfg.baselines,
        bootstrap=cfg.bootstrap,
        flag=flag,
        ceiling=cfg.ceiling,
        imputers=cfg.imputers,
    )["IndieValueReasoner"]


def _resume_path(choice: str | None, folder: str) -> str | None:
    """What the other ranks resume from: the same file rank 0 resolved (quietly)."""
    import io

    with contextlib.redirect_stderr(io.StringIO()):
        from ivr.checkpoints import resolve_ckpt_path

        return resolve_ckpt_path(choice, folder)


if __name__ == "__main__":
    entry_point(main)
