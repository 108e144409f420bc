"""The typed settings of the experiments: every key a config or a ``--key value`` flag may set.

An experiment declares its settings as a dataclass (``Experiment.settings``); the runner checks the
merged config against it (:func:`ivr.experiment.config.validate_config`), so an unknown or mistyped
key is an error with a "did you mean" rather than a silently ignored setting. The shared ``data:``
section is :class:`ivr.settings.DataSettings`, the same ``--data.*`` keys as every other command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ivr.settings import Count0, DataSettings

FORMS = ["polar", "refined"]


@dataclass
class ExperimentSettings:
    """Keys every experiment has.

    Attributes:
        data: the catalog and evaluation people (``--data.catalog``, ``--data.split_size`` ...).
    """

    data: DataSettings = field(default_factory=DataSettings)


@dataclass
class EvalPeopleSettings(ExperimentSettings):
    """Experiments that score a half of the evaluation people.

    Attributes:
        people: ``test``, ``val`` or ``eval`` (both halves).
    """

    people: str = "test"


@dataclass
class ModelExperimentSettings(ExperimentSettings):
    """Experiments that train reasoners (``base:`` + ``train:`` recipes) or score the Bayes predictor.

    Attributes:
        bootstrap: bootstrap replicates for the intervals (0 = none).
        base: ``data`` / ``model`` / ``trainer`` sections every trained recipe starts from (the
            sections of an ``ivr.fit`` config; their keys are checked against those classes).
    """

    bootstrap: Count0 = 0
    base: dict[str, Any] = field(default_factory=dict)
