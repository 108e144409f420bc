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


def typed(settings: type, config: dict[str, Any]) -> Any:
    """The validated config (:func:`ivr.experiment.config.validate_config`) as its settings dataclass:
    ``data:`` a :class:`ivr.settings.DataSettings`, every other key the field of the same name (a key
    the config lacks keeps its default).

    Raises:
        ConfigError: a key the settings do not have (the config was not validated against them).
    """
    from dataclasses import fields

    from ivr.errors import ConfigError

    names = {f.name for f in fields(settings)}
    unknown = sorted(set(config) - names)
    if unknown:
        raise ConfigError(f"{settings.__name__}: unknown key(s) {unknown}; use {sorted(names)}")
    values = {k: v for k, v in config.items()}
    if "data" in names:
        values["data"] = DataSettings.from_value(config.get("data") or {})
    return settings(**values)


def one_of(value: Any, choices: Any, where: str) -> str:
    """``value`` as a string when it is one of ``choices``.

    Raises:
        ConfigError: ``<where> 'x'; use one of [...]``.
    """
    from ivr.errors import ConfigError

    text = str(value)
    if text not in choices:
        raise ConfigError(f"{where} {text!r}; use one of {list(choices)}")
    return text
