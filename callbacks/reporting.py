"""TensorBoard reporting of the protocol's figures after each validation epoch.

The model only computes ``ValueMetrics`` and keeps the epoch's rows (``pl_module.val_predictions``);
this callback scores them with :func:`ivr.metrics.evaluate_predictions` on rank 0 and writes setup /
category accuracy, per-group accuracy, σINEQUITY and calibration as scalars plus a per-group figure.
Every figure has one tag: ``val/all``, ``val/polar_avg`` and ``val/refined_avg`` are the module's own
(they drive the best checkpoint and the progress line), so they are not written a second time.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger


def report_scalars(report: Any) -> dict[str, float]:
    """Flatten a ``Report`` into TensorBoard scalar names (percent; NaNs dropped)."""
    out: dict[str, float] = {}
    row = report.table3_row()
    for form in ("polar", "refined"):
        if f"{form}_avg" in row:
            out[f"{form}/avg"] = row[f"{form}_avg"]
        for setup, acc in report.accuracy.get(form, {}).items():
            out[f"{form}/{setup}"] = acc
        for cat, acc in report.by_category.get(form, {}).items():
            out[f"category_{form}/{cat}"] = acc
    if "all" in row:
        out["all"] = row["all"]
    for dim, groups in report.per_group.items():
        for group, acc in groups.items():
            out[f"group/{dim}/{group}"] = acc
    if report.inequity:
        out["inequity/index"] = report.inequity.get("index", math.nan)
        for dim, sigma in report.inequity.get("per_dimension", {}).items():
            out[f"inequity/{dim}"] = sigma
    for form, cal in report.calibration.items():
        for name, value in cal.items():
            out[f"calibration_{form}/{name}"] = value
    return {k: float(v) for k, v in out.items() if v is not None and not math.isnan(float(v))}


#: scalars the module logs itself under ``<stage>/all``, ``<stage>/polar_avg``, ``<stage>/refined_avg``
MODULE_LOGGED = ("all", "polar/avg", "refined/avg")


class ValueReportCallback(L.Callback):
    """Writes every protocol figure of the validation epoch to TensorBoard.

    Args:
        dimensions: demographic dimensions for per-group accuracy / σ (default: the codebook's).
        figure: also log the per-group bar chart (and keep its PNG under the logger's folder).
        prefix: scalar name prefix.
    """

    def __init__(self, dimensions: list[str] | None = None, figure: bool = True, prefix: str = "val") -> None:
        self.dimensions = dimensions
        self.figure = figure
        self.prefix = prefix
        self.last_report: Any = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        preds = getattr(pl_module, "val_predictions", None)
        catalog = getattr(trainer.datamodule, "catalog", None)
        if preds is None or catalog is None or len(preds) == 0:
            return
        from ivr.metrics import evaluate_predictions

        report = evaluate_predictions(preds, catalog, dimensions=self.dimensions, bootstrap=0)
        self.last_report = report
        tb = next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)
        if tb is None:
            return
        step = trainer.global_step
        for name, value in report_scalars(report).items():
            if name not in MODULE_LOGGED:  # one tag per figure: the module logs these itself
                tb.experiment.add_scalar(f"{self.prefix}/{name}", value, step)
        if self.figure and report.per_group:
            self._log_figure(tb, report, trainer.current_epoch, step)
        tb.experiment.flush()

    def _log_figure(self, tb: TensorBoardLogger, report: Any, epoch: int, step: int) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.image as mpimg

        from ivr.metrics import plot_per_group

        folder = Path(tb.log_dir) / "per_group"
        folder.mkdir(parents=True, exist_ok=True)
        png = plot_per_group(report, folder / f"epoch{epoch:03d}_step{step:07d}.png")
        image = mpimg.imread(png)[..., :3]  # HWC floats in [0, 1]
        tb.experiment.add_image(f"{self.prefix}/per_group", image, step, dataformats="HWC")
