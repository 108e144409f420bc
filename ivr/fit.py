"""Fine-tune an IndieValueReasoner: ``python -m ivr.fit --config configs/tiny.yaml [--section.key value ...]``.

Parse (LightningCLI: the YAML maps onto the typed ``__init__`` arguments of ``IndieValueReasoner``,
``IVRDataModule`` and ``Trainer``) -> choose the strategy -> fit (``--ckpt_path last`` resumes) ->
evaluate the test people with the protocol and print the Table-3-style table with the Global-majority
and Resemble baselines beside it. On a GPU node: ``torchrun --nproc_per_node 8 -m ivr.fit --config
configs/llama31_8b_fsdp.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.cli import LightningCLI

from callbacks.checkpointing import checkpoint_callbacks
from ivr.data.datamodule import IVRDataModule
from ivr.model.module import IndieValueReasoner
from ivr.model.strategy import choose_strategy


def tokenizer_size(datamodule: IVRDataModule) -> int:
    """Vocabulary size of the data module's tokenizer (the model's embedding rows)."""
    return len(datamodule.load_tokenizer())


class ReasonerCLI(LightningCLI):
    """LightningCLI with the strategy rule, the tokenizer -> vocab link and the post-fit evaluation flags."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument("--ckpt_path", type=str | None, default=None,
                            help="checkpoint to resume from: a path, 'last' or 'best'")
        parser.add_argument("--evaluate", type=bool, default=True,
                            help="after fit, run the protocol on the test people and print the table")
        parser.add_argument("--eval_ckpt", type=str, default="best",
                            help="weights for the evaluation: 'best', 'last' or 'current' (in memory)")
        parser.add_argument("--baselines", type=bool, default=True,
                            help="print Global-majority and Resemble rows beside the model")
        parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the CIs")
        parser.add_argument("--report_dir", type=str | None, default=None,
                            help="where table/report/plots go (default: <log_dir>/eval)")
        parser.add_argument("--checkpoint_dir", type=str, default="checkpoints/run",
                            help="folder of the best and last checkpoints")
        parser.add_argument("--save_every_n_steps", type=int, default=50,
                            help="refresh last.ckpt every N optimiser steps (0 = only at validation)")
        parser.set_defaults({"trainer.use_distributed_sampler": False})  # the data sampler shards itself
        parser.link_arguments("data", "model.vocab_size", compute_fn=tokenizer_size, apply_on="instantiate")

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        # one rule for every config: 1 device -> auto, more -> FSDP2 (ModelParallelStrategy)
        trainer_cfg = self._get(self.config_init, "trainer")
        trainer_cfg["strategy"] = choose_strategy(
            trainer_cfg.get("strategy", "auto"), trainer_cfg.get("devices", "auto"),
            trainer_cfg.get("num_nodes", 1), trainer_cfg.get("accelerator", "auto"),
        )
        if trainer_cfg.get("enable_checkpointing", True) is not False:
            cfg = self.config_init
            extra = checkpoint_callbacks(cfg["checkpoint_dir"], cfg["save_every_n_steps"])
            trainer_cfg["callbacks"] = list(trainer_cfg.get("callbacks") or []) + extra
        return super().instantiate_trainer(**kwargs)


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
    cli = ReasonerCLI(
        IndieValueReasoner, IVRDataModule, run=False, args=args, seed_everything_default=0,
        save_config_kwargs={"overwrite": True}, parser_kwargs={"description": __doc__},
    )
    cfg = cli.config
    trainer, model, dm = cli.trainer, cli.model, cli.datamodule
    trainer.fit(model, datamodule=dm, ckpt_path=cfg.ckpt_path)
    if not cfg.evaluate:
        return None
    from ivr.evaluate import report_run, test_views

    preds = test_views(trainer, model, dm, ckpt_path=eval_checkpoint(trainer, cfg.eval_ckpt))  # one per eval view
    log_dir = trainer.log_dir  # collective under FSDP: every rank asks
    if not trainer.is_global_zero:
        return None
    out = Path(cfg.report_dir) if cfg.report_dir else Path(log_dir or trainer.default_root_dir) / "eval"
    return report_run(
        {"IndieValueReasoner": preds}, dm, out, with_baselines=cfg.baselines, bootstrap=cfg.bootstrap,
    )["IndieValueReasoner"]


if __name__ == "__main__":
    main()
