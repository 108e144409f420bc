"""Train and evaluate reasoners for experiments through the training helper's library API.

A *recipe* is three mappings merged over the experiment's ``base:`` section -- ``data`` (keyword
arguments of :class:`ivr.data.datamodule.IVRDataModule`), ``model`` (of
:class:`ivr.model.module.IndieValueReasoner`) and ``trainer`` (of ``lightning.Trainer``) -- the same
sections as a ``python -m ivr.fit`` config. :func:`train_reasoner` fits one and stores its weights as
a ``.ckpt`` file (written under a temporary name, then renamed); :func:`predict_reasoner` scores the
test people of a data configuration with such a checkpoint and returns the protocol predictions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ivr.errors import ConfigError, InputNotFoundError
from ivr.experiment.config import merge
from ivr.metrics import Predictions

SECTIONS = ("data", "model", "trainer")
# settings an experiment run never wants from Lightning: it stores its own checkpoint and reports
TRAINER_FIXED = {
    "logger": False,
    "enable_checkpointing": False,
    "use_distributed_sampler": False,
    "num_sanity_val_steps": 0,
}


def recipe_sections(base: dict[str, Any], recipe: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"data", "model", "trainer"}`` of a recipe merged over the base.

    Raises:
        ConfigError: a section that is not a mapping, or an unknown key (of the recipe, or of a
            section: an argument that IVRDataModule / IndieValueReasoner / lightning.Trainer lacks).
    """
    from ivr.cli import did_you_mean

    unknown = sorted(set(recipe) - set(SECTIONS) - {"name"})
    if unknown:
        raise ConfigError(
            f"recipe {recipe.get('name')!r}: unknown key(s) {unknown}; use {list(SECTIONS)}"
            f"{did_you_mean(unknown[0], SECTIONS)}"
        )
    unknown_base = sorted(set(base) - set(SECTIONS))
    if unknown_base:
        raise ConfigError(
            f"--base: unknown key(s) {unknown_base}; use {list(SECTIONS)}{did_you_mean(unknown_base[0], SECTIONS)}"
        )
    out = {}
    for section in SECTIONS:
        b, r = base.get(section) or {}, recipe.get(section) or {}
        if not isinstance(b, dict) or not isinstance(r, dict):
            raise ConfigError(f"recipe {recipe.get('name')!r}: '{section}:' must be a mapping")
        out[section] = merge(b, r)
        allowed = section_keys(section)
        bad = sorted(set(out[section]) - allowed)
        if bad:
            where = "base" if bad[0] in b else f"recipe {recipe.get('name')!r}"
            raise ConfigError(
                f"{where}: '{section}:' has unknown key(s) {bad} ({SECTION_CLASSES[section]} has no such "
                f"argument){did_you_mean(bad[0], sorted(allowed))}"
            )
    return out


SECTION_CLASSES = {
    "data": "ivr.data.datamodule.IVRDataModule",
    "model": "ivr.model.module.IndieValueReasoner",
    "trainer": "lightning.Trainer",
}


def section_keys(section: str) -> set[str]:
    """The constructor arguments a recipe section may set."""
    import importlib
    import inspect

    module, _, name = SECTION_CLASSES[section].rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    params = inspect.signature(cls.__init__).parameters
    return {
        p
        for p in params
        if p != "self" and params[p].kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }


def _trainer(trainer_kwargs: dict[str, Any], progress: bool) -> Any:
    import lightning as L

    kwargs = {
        "accelerator": "cpu",
        "devices": 1,
        "limit_val_batches": 0,
        **trainer_kwargs,
        **TRAINER_FIXED,
        "enable_progress_bar": progress,
        "enable_model_summary": False,
    }
    return L.Trainer(**kwargs)


def train_reasoner(
    sections: dict[str, dict[str, Any]],
    checkpoint: str | Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Fit a reasoner and write its checkpoint.

    Args:
        sections: ``data`` / ``model`` / ``trainer`` settings (:func:`recipe_sections`).
        checkpoint: ``.ckpt`` path to write.
        progress: Lightning's progress bar.

    Returns:
        ``{"checkpoint", "steps", "seconds"}``.
    """
    import lightning as L

    from ivr.data.datamodule import IVRDataModule
    from ivr.model.build import tokenizer_size
    from ivr.model.module import IndieValueReasoner

    start = time.perf_counter()
    L.seed_everything(int(sections["data"].get("seed", 0)), verbose=False)
    dm = IVRDataModule(**sections["data"])
    model = IndieValueReasoner(**{"vocab_size": tokenizer_size(dm), **sections["model"]})
    trainer = _trainer(sections["trainer"], progress)
    trainer.fit(model, datamodule=dm)
    checkpoint = Path(checkpoint)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    tmp = checkpoint.with_name(f".{checkpoint.stem}.tmp.ckpt")
    trainer.save_checkpoint(tmp, weights_only=True)
    tmp.replace(checkpoint)
    return {"checkpoint": str(checkpoint), "steps": int(trainer.global_step), "seconds": time.perf_counter() - start}


def predict_reasoner(
    checkpoint: str | Path, data: dict[str, Any], trainer: dict[str, Any] | None = None, progress: bool = True
) -> Predictions:
    """Protocol predictions of a trained reasoner on the test people of ``data``
    (:func:`reasoner_examples` without the examples)."""
    return reasoner_examples(checkpoint, data, trainer, progress)[0]


def reasoner_examples(
    checkpoint: str | Path, data: dict[str, Any], trainer: dict[str, Any] | None = None, progress: bool = True
) -> tuple[Predictions, Any]:
    """Protocol predictions of a trained reasoner on the test people of ``data``, and the examples the data
    module evaluated (:func:`ivr.predict.from_datamodule`: its people, setups, shown demonstrations), on which
    the predictions are scored as a :class:`ivr.predict.FixedPredictor` row.

    Args:
        checkpoint: ``.ckpt`` written by :func:`train_reasoner` (or by ``ivr.fit``).
        data: IVRDataModule settings for the evaluation (e.g. ``eval_demo_count``, ``demographics``).
        trainer: Trainer settings (accelerator, precision, ...); training-only keys are ignored.
        progress: progress bar.

    Raises:
        FileNotFoundError: the checkpoint does not exist.
    """
    from ivr.data.datamodule import IVRDataModule
    from ivr.model.export import reasoner_from_checkpoint

    checkpoint = Path(checkpoint)
    if not checkpoint.exists():
        raise InputNotFoundError(
            f"checkpoint {checkpoint} does not exist; delete the experiment's run files "
            "for its training run to train it again"
        )
    keep = {k: v for k, v in (trainer or {}).items() if k in ("accelerator", "devices", "precision")}
    module = reasoner_from_checkpoint(checkpoint)
    dm = IVRDataModule(**data)
    _trainer(keep, progress).test(module, datamodule=dm, verbose=False)
    from ivr.predict import from_datamodule

    return module.test_predictions, from_datamodule(dm)
