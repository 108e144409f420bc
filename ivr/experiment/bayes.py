"""The synthetic population's exact Bayes predictor as an experiment "model", and the eval people.

A synthetic catalog folder holds ``synth_model.npz``; :meth:`SynthModel.posterior` gives the exact
posterior predictive of each probe given a person's demonstrations. Predicting its most probable
option is the best any model can do on that population, so the analyses that need a model
(category matrix, demonstration-count curves, inequity) run on a CPU in seconds with it, and show
the ceiling a trained reasoner is measured against. The predictor itself is
:class:`ivr.predict.bayes.BayesCeiling`, run on examples prepared by :func:`ivr.predict.prepare`
(demonstrations drawn by the protocol's sampler, probes of the setup excluded) and read in the form
the evaluation view gives each probe form (``eval_forms`` of a ``bayes:`` entry; default ``matched``).
This module holds which people and probes are scored and the ``bayes:`` entries of a config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ivr.catalog.store import Catalog
from ivr.errors import ConfigError
from ivr.protocol.conventions import VIEWS
from ivr.protocol.probes import probe_setups
from ivr.settings import DataSettings, plain

PEOPLE = ("test", "val", "eval")


@dataclass(frozen=True)
class EvalSettings:
    """Which people and probes are scored: the experiment's shared ``data:`` settings and ``people``.

    Attributes:
        data: the ``data:`` section (:class:`ivr.settings.DataSettings`, where each key's type, default and
            check live): split rule and size, ``split_ids_file``, ``min_valid``, the probe-setup keys,
            ``setups`` and ``seed``; null protocol keys = the survey protocol's (:mod:`ivr.protocol.resolve`).
        people: ``"test"``, ``"val"`` or ``"eval"`` (both halves).

    The properties below read ``data`` (setups default to (0, 1, 2)); none is a setting of its own.
    """

    data: DataSettings = field(default_factory=DataSettings)
    people: str = "test"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> EvalSettings:
        """Read the settings from an experiment config (its ``data:`` section and ``people``).

        Raises:
            ConfigError: an unknown ``people`` value, bad setups, or a ``data:`` key or count
                :class:`ivr.settings.DataSettings` refuses.
        """
        people = str(config.get("people", cls.people))
        if people not in PEOPLE:
            raise ConfigError(f"--people {people!r}: use one of {list(PEOPLE)}")
        settings = cls(DataSettings.from_value(config.get("data") or {}), people)
        if not settings.setups or min(settings.setups) < 0:
            raise ConfigError(f"--data.setups {list(settings.setups)}: give setup numbers >= 0, e.g. [0, 1, 2]")
        return settings

    @property
    def setups(self) -> tuple[int, ...]:
        """Probe setups scored (``data.setups``; default 0, 1, 2)."""
        return (0, 1, 2) if self.data.setups is None else tuple(int(s) for s in self.data.setups)

    @property
    def seed(self) -> int:
        return int(self.data.seed)

    @property
    def split_size(self) -> int | None:
        return self.data.split_size

    @property
    def split_rule(self) -> str | None:
        return self.data.split_rule

    @property
    def min_valid(self) -> int | None:
        return self.data.min_valid

    @property
    def ids_file(self) -> str | None:
        return self.data.split_ids_file

    @property
    def probes(self) -> tuple[tuple[str, Any], ...]:
        """The probe-setup keys of ``data`` that are set, as (key, value) pairs."""
        return tuple(
            (k, getattr(self.data, k))
            for k in ("n_setups", "probes_per_category", "probes_per_setup")
            if getattr(self.data, k) is not None
        )

    def params(self) -> dict[str, Any]:
        out = {
            "split_size": self.split_size,
            "split_rule": self.split_rule,
            "people": self.people,
            "setups": list(self.setups),
            "seed": self.seed,
        }
        out.update({k: v for k, v in (("ids_file", self.ids_file), ("min_valid", self.min_valid)) if v is not None})
        out.update(dict(self.probes))
        return plain(out)

    def overrides(self) -> dict[str, Any]:
        """The protocol keys these settings set (:func:`ivr.protocol.resolve.resolve_protocol`)."""
        return {
            "split_size": self.split_size,
            "split_rule": self.split_rule,
            "min_valid": self.min_valid,
            **dict(self.probes),
        }

    def protocol(self, catalog: Catalog) -> Any:
        """The survey protocol with these settings' overrides."""
        from ivr.protocol.resolve import resolve_protocol

        return resolve_protocol(catalog.codebook, self.overrides())


def eval_split(catalog: Catalog, settings: EvalSettings) -> Any:
    """The evaluation split of the settings' protocol (:func:`ivr.protocol.resolve.protocol_split`)."""
    from ivr.protocol.resolve import protocol_split

    return protocol_split(catalog, settings.overrides(), settings.seed, settings.ids_file)[2]


def eval_people(catalog: Catalog, settings: EvalSettings) -> np.ndarray:
    """Catalog rows of the scored people (:func:`ivr.protocol.splits.make_split`)."""
    split = eval_split(catalog, settings)
    return {"test": split.test_rows, "val": split.val_rows, "eval": split.eval_rows}[settings.people]


def setup_probes(
    catalog: Catalog, setups: tuple[int, ...], settings: EvalSettings | None = None
) -> dict[int, np.ndarray]:
    """Setup number -> probe question indices (of ``settings``' protocol; default the survey's)."""
    every = (
        settings.protocol(catalog).setups(catalog.codebook)
        if settings is not None
        else probe_setups(catalog.codebook, n_setups=max(setups) + 1)
    )
    return {s: every[s] for s in setups}


def without_bayes(settings: Any, what: str, fix: str) -> list[str]:
    """Leave the ``bayes:`` entries out of ``settings.models`` (a catalog without the generator's model).

    Args:
        settings: the experiment's typed settings (changed in place).
        what: the experiment's name (for the messages).
        fix: what to list instead when nothing would be left.

    Returns:
        One note naming the entries left out (none when there were none).

    Raises:
        ConfigError: every entry needs the Bayes model.
    """
    models = list(settings.models or [])
    dropped = [str(e.get("name")) for e in models if isinstance(e, dict) and "bayes" in e]
    if not dropped:
        return []
    kept = [e for e in models if not (isinstance(e, dict) and "bayes" in e)]
    if not kept:
        raise ConfigError(
            f"{what}: every entry of models: is a 'bayes:' predictor, which needs a synthetic catalog "
            f"('synthetic:people=N,seed=S', the generator's synth_model.npz); {fix}"
        )
    settings.models = kept
    return [f"left out {dropped}: the Bayes predictor needs a synthetic catalog (synth_model.npz), this one is real"]


def bayes_view(cfg: Any, where: str) -> str:
    """The evaluation view of a ``bayes:`` entry (a mapping) or of typed settings with ``eval_forms`` /
    ``demo_form`` fields: ``eval_forms`` (or the older ``demo_form``), default matched.

    Raises:
        ConfigError: a view that is not one of :data:`ivr.protocol.conventions.VIEWS`, naming ``where``.
    """
    get = cfg.get if isinstance(cfg, dict) else (lambda key: getattr(cfg, key, None))
    view = str(get("eval_forms") or get("demo_form") or "matched")
    if view not in VIEWS:
        raise ConfigError(f"{where}: bayes eval_forms {view!r}; use one of {list(VIEWS)} (one view per entry)")
    return view
