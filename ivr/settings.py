"""Settings groups shared by every entry point, so one thing has one flag name everywhere.

:class:`DataSettings` is the ``--data.*`` section of ``baselines``, ``ivr.zero_shot`` and the
experiments (and of the experiment YAML files' ``data:``): the catalog and the evaluation protocol.
Its keys are those of :class:`ivr.data.datamodule.IVRDataModule`, whose arguments are the ``--data.*``
section of ``ivr.fit``, ``ivr.evaluate`` and ``ivr.data export``; so ``--data.catalog``,
``--data.split_size``, ``--data.split_rule``, ``--data.split_ids_file``, ``--data.seed`` ... mean the
same on every command. The protocol keys (``n_setups``, ``probes_per_category``, ``probes_per_setup``,
``min_valid``, ``eval_demo_count``, ``split_rule``, ``split_size``) default to null = the survey's protocol
(:mod:`ivr.protocol.resolve`: the codebook's ``protocol:`` section over defaults derived from its size).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jsonargparse.typing import NonNegativeInt, PositiveInt

from ivr.errors import ConfigError

#: the typed constraints of every count and size flag (``--data.batch_size``, ``--top``, ``--bootstrap`` ...):
#: jsonargparse checks them while parsing, so a value out of range is one ``error:`` line naming the flag and
#: the range (:func:`ivr.cli.usage_message`) before any work, on every command that shares the key
Count = PositiveInt  # a whole number >= 1
Count0 = NonNegativeInt  # a whole number >= 0



def check_count(flag: str, value: Any, minimum: int = 1, optional: bool = False) -> None:
    """The same check for a value that did not come through a parser (a Python call, an experiment recipe).

    Raises:
        ConfigError: ``value`` is not a whole number >= ``minimum`` (or None when ``optional``), naming ``flag``.
    """
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{flag} {value!r}: out of range, use a whole number >= {minimum}"
                          f"{' (or null)' if optional else ''}")


def plain(value: Any) -> Any:
    """``value`` with every parsed ``Count``/``Count0`` (an ``int`` subclass of jsonargparse's) made a plain
    ``int``, in lists, tuples and dicts too: hyperparameters are pickled into checkpoints, and ivr reads those
    with ``weights_only=True``, which refuses any class it does not know."""
    if isinstance(value, int) and not isinstance(value, bool) and type(value) is not int:
        return int(value)
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


DEFAULT_CATALOG = "synthetic:people=2000,seed=0"


@dataclass
class DataSettings:
    """The catalog and who is evaluated on which probes (``--data.KEY``).

    Attributes:
        catalog: catalog folder, or ``synthetic:people=N,seed=S`` (built once under ``cache_dir``).
        split_rule: evaluation-people rule: ``study`` (the paper's 800-person rule) or ``stratified``
            (null = the protocol's: study for WVS-7).
        split_size: number of evaluation people, test + validation halves (null = the protocol's: 800 for
            WVS-7, one eligible person in five for a small survey).
        split_ids_file: a published list of evaluation person ids (.txt / .jsonl) instead of the rule.
        min_valid: valid answers an evaluation person needs (null = the protocol's: 200 demonstrations +
            probes per setup for WVS-7).
        n_setups: number of probe setups (null = the protocol's: 3).
        probes_per_category: probes per category and setup, the study's rule (null = the protocol's).
        probes_per_setup: probes per setup spread over the categories, folds for small surveys (null = the
            protocol's).
        eval_demo_count: demonstrations per evaluation example, a count or ``all`` (null = the protocol's).
        setups: probe setups to score (null = every setup: P0, P1, P2).
        limit_eval_people: score only the first n evaluation people (quick runs; null = all).
        seed: seed of every draw (split, demonstrations, pools, bootstrap).
        cache_dir: where synthetic catalogs are built (default ``$IVR_CACHE`` or ``./.ivr_cache``).
    """

    catalog: str = DEFAULT_CATALOG
    split_rule: str | None = None
    split_size: Count | None = None
    split_ids_file: str | None = None
    min_valid: Count0 | None = None
    n_setups: Count | None = None
    probes_per_category: Count | None = None
    probes_per_setup: Count | None = None
    eval_demo_count: str | None = None
    setups: list[Count0] | None = None
    limit_eval_people: Count | None = None
    seed: int = 0
    cache_dir: str | None = None

    @classmethod
    def from_value(cls, value: Any) -> DataSettings:
        """From a parsed ``--data`` namespace, a mapping or an instance."""
        if isinstance(value, cls):
            return value
        if value is None:
            return cls()
        items = value.as_dict() if hasattr(value, "as_dict") else dict(value)
        unknown = sorted(set(items) - set(cls.__dataclass_fields__))
        if unknown:
            from ivr.cli import did_you_mean

            raise ConfigError(f"data: unknown key(s) {unknown}"
                              f"{did_you_mean(unknown[0], list(cls.__dataclass_fields__))}")
        return cls(**items)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def open_catalog(self) -> Any:
        """The loaded :class:`ivr.catalog.store.Catalog` (:func:`ivr.catalog.resolve.open_catalog`)."""
        from ivr.catalog.resolve import open_catalog

        return open_catalog(self.catalog, self.cache_dir)

    def protocol(self, catalog: Any) -> Any:
        """The survey's :class:`ivr.protocol.resolve.Protocol` with these settings' overrides."""
        from ivr.protocol.resolve import resolve_protocol

        return resolve_protocol(catalog.codebook, self.to_dict())

    def chosen_setups(self, catalog: Any) -> dict[int, np.ndarray]:
        """Setup number -> probe question indices, for ``setups`` (default all of the protocol's).

        Raises:
            ConfigError: a setup the protocol does not have.
        """
        every = self.protocol(catalog).setups(catalog.codebook)
        wanted = list(range(len(every))) if self.setups is None else [int(s) for s in self.setups]
        bad = [s for s in wanted if not 0 <= s < len(every)]
        if bad or not wanted or len(set(wanted)) != len(wanted):
            raise ConfigError(f"--data.setups {wanted}: give distinct setup numbers between 0 and {len(every) - 1}, "
                              f"e.g. {list(range(len(every)))} (--data.n_setups sets how many there are)")
        return {s: every[s] for s in wanted}

    def split(self, catalog: Any, setups: list[np.ndarray] | None = None) -> Any:
        """The evaluation split (:func:`ivr.protocol.splits.make_split`) of these settings and the protocol.

        Eligibility uses every setup of the protocol (``setups`` replaces them when given).
        """
        from ivr.protocol.resolve import protocol_split

        return protocol_split(catalog, self.to_dict(), self.seed, self.split_ids_file, setups)[2]
