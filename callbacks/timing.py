"""Training time beside the validation figures: the x axis of a learning curve.

``TrainingClock`` logs, at each validation, the process CPU-minutes and wall-minutes spent training so far
(since the fit started, validation excluded) as ``time/train_cpu_min`` and ``time/train_wall_min`` at the
same step as ``val/all``. CPU time (``time.process_time``: every thread of this process) is what a shared
machine distorts least; wall time is logged too. ``python -m benchmarks.quality`` reads both from the
TensorBoard event files to draw accuracy against training time.
"""

from __future__ import annotations

import time
from typing import Any

import lightning as L
from lightning.pytorch.trainer.states import TrainerFn


class TrainingClock(L.Callback):
    """Accumulates training CPU / wall time, pausing during validation, and logs it at each validation."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.wall = 0.0
        self._mark: tuple[float, float] | None = None

    def _start(self) -> None:
        self._mark = (time.process_time(), time.perf_counter())

    def _stop(self) -> None:
        if self._mark is not None:
            self.cpu += time.process_time() - self._mark[0]
            self.wall += time.perf_counter() - self._mark[1]
            self._mark = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start()

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._stop()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.log_metrics(
                    {"time/train_cpu_min": self.cpu / 60, "time/train_wall_min": self.wall / 60},
                    step=trainer.global_step,
                )
        if trainer.state.fn == TrainerFn.FITTING:  # validation inside a fit: training resumes
            self._start()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._stop()
        if trainer.is_global_zero:
            print(
                f"[ivr] training time: {self.cpu / 60:.2f} CPU-minutes (this process), "
                f"{self.wall / 60:.2f} wall-minutes, validation excluded",
                flush=True,
            )

    def state_dict(self) -> dict[str, Any]:
        return {"cpu": self.cpu, "wall": self.wall}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.cpu, self.wall = float(state_dict.get("cpu", 0.0)), float(state_dict.get("wall", 0.0))
