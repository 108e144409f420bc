"""Training progress a log file can hold: a plain line every N steps when output is not a terminal.

Lightning's rich / tqdm bars redraw one line in place; written to a file (a batch job, ``| tee``,
CI) they give either nothing until the end or thousands of carriage returns. :class:`PlainProgressBar`
prints ``[ivr] train: epoch 1/2, step 120/948 (13%), loss 1.172, 2.1 steps/s, eta 6m40s`` every
``every_n_steps`` optimiser steps (default: the trainer's ``log_every_n_steps``), and one line per
validation and test. :func:`progress_callbacks` picks it or the rich bar depending on stderr.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar, TQDMProgressBar

from ivr.progress import duration, is_terminal

BAR_TYPES = (RichProgressBar, TQDMProgressBar)


class PlainProgressBar(ProgressBar):
    """One plain progress line every ``every_n_steps`` optimiser steps (and per validation / test).

    Args:
        every_n_steps: steps between lines (None: the trainer's ``log_every_n_steps``).
    """

    def __init__(self, every_n_steps: int | None = None) -> None:
        super().__init__()
        self.every_n_steps = every_n_steps
        self._enabled = True
        self._start = time.monotonic()
        self._start_step = 0
        self._last_step = -1

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def _print(self, text: str) -> None:
        if self._enabled and self.trainer.is_global_zero:
            print(f"[ivr] {text}", file=sys.stderr, flush=True)

    def _metrics(self, pl_module: L.LightningModule, keys: tuple[str, ...]) -> str:
        metrics = self.get_metrics(self.trainer, pl_module)
        parts = []
        for key in keys:
            value = metrics.get(key)
            if value is not None:
                try:
                    parts.append(f"{key.split('/')[-1] if key.startswith('train/') else key} {float(value):.3f}")
                except (TypeError, ValueError):
                    continue
        return ", ".join(parts)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.monotonic()
        self._start_step = trainer.global_step

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = trainer.global_step
        every = self.every_n_steps or max(1, int(trainer.log_every_n_steps))
        if step == self._last_step or step % every:
            return
        self._last_step = step
        total = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
        if total is None and trainer.max_epochs and trainer.num_training_batches not in (None, float("inf")):
            total = int(trainer.max_epochs * trainer.num_training_batches // max(1, trainer.accumulate_grad_batches))
        elapsed = time.monotonic() - self._start
        rate = (step - self._start_step) / elapsed if elapsed > 0 else 0.0
        where = f"step {step}/{total} ({100 * step / total:.0f}%)" if total else f"step {step}"
        epochs = (
            f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
            if trainer.max_epochs and trainer.max_epochs > 0
            else f"epoch {trainer.current_epoch + 1}"
        )
        parts = [epochs, where]
        metrics = self._metrics(pl_module, ("train/loss",))
        if metrics:
            parts.append(metrics)
        parts.append(f"{rate:.2f} steps/s")
        if total and rate > 0 and step < total:
            parts.append(f"eta {duration((total - step) / rate)}")
        self._print("train: " + ", ".join(parts))

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = self._metrics(pl_module, ("val/all", "val/polar_avg", "val/refined_avg", "val/loss"))
        self._print(f"validation at step {trainer.global_step}: {metrics or 'done'}")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._print("test: done")


def progress_callbacks(enabled: bool = True, every_n_steps: int | None = None) -> list[L.Callback]:
    """The progress callback for this output: the rich bar on a terminal, plain lines otherwise."""
    if not enabled:
        return []
    return [RichProgressBar()] if is_terminal() else [PlainProgressBar(every_n_steps)]


def plain_when_not_a_terminal(callbacks: list[Any]) -> list[Any]:
    """Replace the progress bars by :class:`PlainProgressBar` when stderr is not a terminal.

    Also when the config names none (Lightning would add its tqdm bar).
    """
    if is_terminal() or any(isinstance(c, PlainProgressBar) for c in callbacks):
        return callbacks
    return [c for c in callbacks if not isinstance(c, BAR_TYPES)] + [PlainProgressBar()]
