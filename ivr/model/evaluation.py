"""Running a reasoner over the data module's test people: one ``trainer.test`` per evaluation view
(``eval_forms: all`` has two), in the fit's trainer or a one-device trainer of its own."""

from __future__ import annotations

from typing import Any


def test_views(
    trainer: Any, module: Any, dm: Any, ckpt_path: str | None = None, verbose: bool = True
) -> dict[str, Any]:
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


def predict_views(module: Any, dm: Any, trainer_cfg: dict[str, Any], progress: bool = True) -> dict[str, Any]:
    """Run the test split through ``module`` on one device; returns {evaluation view: ``Predictions``}."""
    import lightning as L

    from callbacks.progress import progress_callbacks

    keep = {k: trainer_cfg[k] for k in ("accelerator", "precision") if trainer_cfg.get(k) is not None}
    trainer = L.Trainer(
        **{"accelerator": "auto", **keep},
        devices=1,
        logger=False,
        enable_checkpointing=False,
        callbacks=progress_callbacks(progress),
        enable_progress_bar=progress,
    )
    return test_views(trainer, module, dm, verbose=False)
