"""Settings groups shared by every entry point, so one thing has one flag name everywhere.

:class:`DataSettings` is the ``--data.*`` section of ``baselines``, ``ivr.zero_shot`` and the
experiments (and of the experiment YAML files' ``data:``): the catalog and the evaluation protocol.
Its keys are those of :class:`ivr.data.datamodule.IVRDataModule`, whose arguments are the ``--data.*``
section of ``ivr.fit``, ``ivr.evaluate`` and ``ivr.data export``; so ``--data.catalog``,
``--data.split_size``, ``--data.split_rule``, ``--data.split_ids_file``, ``--data.seed`` ... mean the
same on every command. Protocol settings added later (the codebook's protocol section, demonstration
counts) belong here and in ``IVRDataModule`` under the same name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ivr.errors import ConfigError

DEFAULT_CATALOG = "synthetic:people=2000,seed=0"


@dataclass
class DataSettings:
    """The catalog and who is evaluated on which probes (``--data.KEY``).

    Attributes:
        catalog: catalog folder, or ``synthetic:people=N,seed=S`` (built once under ``cache_dir``).
        split_rule: evaluation-people rule: ``study`` (the paper's 800-person rule) or ``stratified``.
        split_size: number of evaluation people (test + validation halves).
        split_ids_file: a published list of evaluation person ids (.txt / .jsonl) instead of the rule.
        min_valid: valid answers an evaluation person needs (null = 200 demonstrations + probes per setup).
        setups: probe setups to score (null = every setup: P0, P1, P2).
        limit_eval_people: score only the first n evaluation people (quick runs; null = all).
        seed: seed of every draw (split, demonstrations, pools, bootstrap).
        cache_dir: where synthetic catalogs are built (default ``$IVR_CACHE`` or ``./.ivr_cache``).
    """

    catalog: str = DEFAULT_CATALOG
    split_rule: str = "study"
    split_size: int = 800
    split_ids_file: str | None = None
    min_valid: int | None = None
    setups: list[int] | None = None
    limit_eval_people: int | None = None
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

    def catalog_folder(self) -> Path:
        """The catalog folder (a synthetic spec is built once and cached)."""
        from ivr.catalog.resolve import resolve_catalog

        return Path(resolve_catalog(self.catalog, self.cache_dir))

    def open_catalog(self) -> Any:
        """The loaded :class:`ivr.catalog.store.Catalog`."""
        from ivr.catalog.store import load_catalog

        return load_catalog(self.catalog_folder())

    def chosen_setups(self, catalog: Any) -> dict[int, np.ndarray]:
        """Setup number -> probe question indices, for ``setups`` (default all of the codebook's).

        Raises:
            ConfigError: a setup the codebook does not have.
        """
        from ivr.data.probes import probe_setups

        every = probe_setups(catalog.codebook)
        wanted = list(range(len(every))) if self.setups is None else [int(s) for s in self.setups]
        bad = [s for s in wanted if not 0 <= s < len(every)]
        if bad or not wanted or len(set(wanted)) != len(wanted):
            raise ConfigError(f"--data.setups {wanted}: give distinct setup numbers between 0 and {len(every) - 1}, "
                              f"e.g. [0, 1, 2]")
        return {s: every[s] for s in wanted}

    def split(self, catalog: Any, setups: list[np.ndarray] | None = None) -> Any:
        """The evaluation split (:func:`ivr.data.splits.make_split`) of these settings."""
        from ivr.data.splits import make_split

        if self.split_ids_file is None and self.split_size > len(catalog):
            raise ConfigError(f"--data.split_size {self.split_size} is larger than the catalog's population of "
                              f"{len(catalog)} people; lower --data.split_size")
        return make_split(catalog, size=self.split_size, seed=self.seed, rule=self.split_rule,
                          ids_file=self.split_ids_file, setups=setups, min_valid=self.min_valid)
