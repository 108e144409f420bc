"""Checkpoints under one folder: the best validation epoch and a frequent ``last`` for resuming.

The best file is named for what made it best: ``best-epoch{E}-step{S}-val_all{X}.ckpt`` (its epoch,
step and monitored figure), so it is never mistaken for ``last.ckpt`` (the latest weights, rewritten as
training goes on; ``--ckpt_path last`` prints its step).

``last`` is rewritten every ``every_n_train_steps`` optimiser steps (and at each validation), so a
killed run loses at most that many steps: ``python -m ivr.fit --config C.yaml --ckpt_path last`` picks
it up mid-epoch (the data module's sampler position is stored with it). Under FSDP2 both are
distributed checkpoint folders (``*.ckpt/``) that ``ivr.model.export`` consolidates.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from weakref import proxy

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

from ivr.errors import ConfigError


class AtomicModelCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose files (or FSDP2 checkpoint folders) appear whole or not at all.

    A SIGKILL while ``last.ckpt`` is being rewritten would otherwise leave a truncated file and make
    ``--ckpt_path last`` fail; here the checkpoint is written beside it and renamed into place.
    """

    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        tmp = f"{filepath}.partial"  # not matched by Lightning's "last*.ckpt" search
        trainer.save_checkpoint(tmp, self.save_weights_only)
        trainer.strategy.barrier("ivr_checkpoint_written")
        if trainer.is_global_zero:
            _replace(tmp, filepath)
        trainer.strategy.barrier("ivr_checkpoint_renamed")
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))


def _replace(src: str, dst: str) -> None:
    """Rename ``src`` onto ``dst``; a folder target is moved aside first (a rename cannot replace it)."""
    if os.path.isdir(dst) and not os.path.islink(dst):
        old = f"{dst}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


def best_name(monitor: str = "val/all") -> str:
    """The best checkpoint's file name pattern: ``best-epoch0-step12-val_all65.12`` (``.ckpt`` added)."""
    return f"best-epoch{{epoch}}-step{{step}}-{monitor.replace('/', '_')}{{{monitor}:.2f}}"


def checkpoint_callbacks(
    dirpath: str | Path, every_n_train_steps: int = 50, monitor: str = "val/all", mode: str = "max"
) -> list[AtomicModelCheckpoint]:
    """The best and the periodic ``last`` checkpoint savers.

    Args:
        dirpath: folder of both (``checkpoints/<run>``).
        every_n_train_steps: how often ``last.ckpt`` is refreshed (0 = only at validation).
        monitor: validation metric that decides "best" (``val/all``: the Table-3 "all" accuracy).
        mode: ``"max"`` for accuracies.

    Raises:
        ValueError: a negative interval.
    """
    if every_n_train_steps < 0:
        raise ConfigError(f"--save_every_n_steps={every_n_train_steps}: use 0 (off) or a positive step count")
    best = AtomicModelCheckpoint(
        dirpath=dirpath,
        filename=best_name(monitor),
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        auto_insert_metric_name=False,
    )
    last = AtomicModelCheckpoint(
        dirpath=dirpath, save_last=True, save_top_k=0, every_n_train_steps=every_n_train_steps or None
    )
    return [best, last]
