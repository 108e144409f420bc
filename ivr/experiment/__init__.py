"""The study's analyses as resumable commands: ``python -m ivr.experiment NAME --config FILE [--quick]``.

Each experiment writes ``table.csv``/``table.json``, ``figure.png`` and ``runs/<id>.json`` (one per
finished run; reused when the experiment is started again) into its output folder, and prints the
published figures beside its own where the study has them.
"""

from __future__ import annotations

import importlib

from ivr.errors import ConfigError

# name -> "module:class"; imported on demand so that the numpy-only experiments never load torch
EXPERIMENTS: dict[str, str] = {
    "evenness": "ivr.experiment.evenness:EvennessExperiment",
    "inequity": "ivr.experiment.inequity:InequityExperiment",
    "category_matrix": "ivr.experiment.category_matrix:CategoryMatrixExperiment",
    "demo_count": "ivr.experiment.demo_count:DemoCountExperiment",
    "continent": "ivr.experiment.continent:ContinentExperiment",
    "demographics": "ivr.experiment.demographics:DemographicsExperiment",
    "elicitation": "ivr.experiment.elicitation:ElicitationExperiment",
}


def experiment_class(name: str) -> type:
    """The experiment class registered under ``name``.

    Raises:
        ConfigError: an unknown name (lists the known ones, with a "did you mean").
    """
    if name not in EXPERIMENTS:
        from ivr.cli import did_you_mean

        raise ConfigError(
            f"unknown experiment {name!r}; choose one of {sorted(EXPERIMENTS)}{did_you_mean(name, sorted(EXPERIMENTS))}"
        )
    module, cls = EXPERIMENTS[name].split(":")
    return getattr(importlib.import_module(module), cls)
