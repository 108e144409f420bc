"""Settings groups shared by every entry point, so one thing has one flag name everywhere.

:class:`ProtocolSettings` is the one schema of the ``--data.*`` keys every command shares (the catalog and the
evaluation protocol): each key's type, default and check (``Count`` / ``Count0``, :func:`check_fields`) live
there once. :class:`DataSettings` (those keys + ``setups``) is the ``--data.*`` section of ``baselines``,
``ivr.zero_shot``, ``ivr.catalog``, ``ivr.elicit`` and the experiments (and of the experiment YAML files'
``data:``); :class:`ivr.data.settings.DataModuleSettings` (those keys + the pipeline's) is the arguments of
:class:`ivr.data.datamodule.IVRDataModule`, the ``--data.*`` section of ``ivr.fit``, ``ivr.evaluate`` and
``ivr.data export``; so ``--data.catalog``, ``--data.split_size``, ``--data.split_rule``,
``--data.split_ids_file``, ``--data.seed`` ... mean the same on every command. The protocol keys
(``n_setups``, ``probes_per_category``, ``probes_per_setup``, ``min_valid``, ``eval_demo_count``,
``split_rule``, ``split_size``) default to null = the survey's protocol (:mod:`ivr.protocol.resolve`: the
codebook's ``protocol:`` section over defaults derived from its size).
"""

from __future__ import annotations

import inspect
from dataclasses import MISSING, asdict, dataclass, fields, is_dataclass
from typing import Any, TypeVar, get_args, get_type_hints

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
        raise ConfigError(
            f"{flag} {value!r}: out of range, use a whole number >= {minimum}{' (or null)' if optional else ''}"
        )


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
S = TypeVar("S", bound="ProtocolSettings")


def check_fields(settings: Any, prefix: str = "--data.") -> None:
    """:func:`check_count` on every field of a settings dataclass typed ``Count`` / ``Count0`` (``| None``:
    null allowed), so a key's check lives with its type whether or not a parser read it.

    Raises:
        ConfigError: the first field out of range, named ``prefix`` + its name.
    """
    hints = get_type_hints(type(settings))
    for f in fields(settings):
        hint = hints[f.name]
        args = get_args(hint) or (hint,)
        for typ, minimum in ((Count, 1), (Count0, 0)):
            if typ in args:
                check_count(prefix + f.name, getattr(settings, f.name), minimum, optional=type(None) in args)


def init_signature(settings: type) -> inspect.Signature:
    """The keyword signature ``(self, *, key: type = default, ...)`` of a settings dataclass: a class whose
    ``__init__`` takes ``**settings`` declares its arguments with it (``__init__.__signature__``), so
    jsonargparse / LightningCLI read the keys, types and defaults from the one dataclass."""
    hints = get_type_hints(settings)
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for f in fields(settings):
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        params.append(
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hints[f.name])
        )
    return inspect.Signature(params, return_annotation=None)


def init_doc(settings: type) -> str:
    """An ``Args:`` docstring of every field of a settings dataclass, from the ``Attributes:`` sections of it and
    its bases (for the ``__init__`` that :func:`init_signature` describes: ``--help`` reads it)."""
    sections = []
    for cls in reversed([c for c in settings.__mro__ if is_dataclass(c)]):
        doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
        if "Attributes:\n" in doc:
            sections.append(doc.split("Attributes:\n", 1)[1].rstrip())
    return f"The fields of {settings.__name__}.\n\nArgs:\n" + "\n".join(sections) + "\n"


@dataclass
class ProtocolSettings:
    """The catalog and the evaluation protocol: the ``--data.*`` keys every command shares (the data module's
    arguments :class:`ivr.data.settings.DataModuleSettings` and :class:`DataSettings` both start with them).

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
        eval_demo_count: demonstrations per evaluation example, a count or ``all`` (null = the protocol's:
            ``200`` for WVS-7 as in the study, ``all`` for a small survey).
        limit_eval_people: score only the first n evaluation people (quick runs; null = all).
        seed: seed of every draw (split, demonstrations, pools, bootstrap).
        cache_dir: where synthetic catalogs (and the statement tokenizer) are built (default ``$IVR_CACHE`` or
            ``./.ivr_cache``).
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
    limit_eval_people: Count | None = None
    seed: int = 0
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        check_fields(self)

    @classmethod
    def from_value(cls: type[S], value: Any) -> S:
        """From a parsed ``--data`` namespace, a mapping or an instance (of this class).

        Raises:
            ConfigError: an unknown key (with a "did you mean") or a count out of range.
        """
        if isinstance(value, cls):
            return value
        if value is None:
            return cls()
        items = value.as_dict() if hasattr(value, "as_dict") else dict(value)
        unknown = sorted(set(items) - set(cls.__dataclass_fields__))
        if unknown:
            from ivr.cli import did_you_mean

            raise ConfigError(
                f"data: unknown key(s) {unknown}{did_you_mean(unknown[0], list(cls.__dataclass_fields__))}"
            )
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

    def split(self, catalog: Any, setups: list[np.ndarray] | None = None) -> Any:
        """The evaluation split (:func:`ivr.protocol.splits.make_split`) of these settings and the protocol.

        Eligibility uses every setup of the protocol (``setups`` replaces them when given).
        """
        from ivr.protocol.resolve import protocol_split

        return protocol_split(catalog, self.to_dict(), self.seed, self.split_ids_file, setups)[2]


@dataclass
class DataSettings(ProtocolSettings):
    """The ``--data.*`` section of ``baselines``, ``ivr.zero_shot``, ``ivr.catalog``, ``ivr.elicit`` and the
    experiments (and of the experiment YAML files' ``data:``): the shared keys and the setups scored.

    Attributes:
        setups: probe setups to score (null = every setup: P0, P1, P2).
    """

    setups: list[Count0] | None = None

    def chosen_setups(self, catalog: Any) -> dict[int, np.ndarray]:
        """Setup number -> probe question indices, for ``setups`` (default all of the protocol's).

        Raises:
            ConfigError: a setup the protocol does not have.
        """
        every = self.protocol(catalog).setups(catalog.codebook)
        wanted = list(range(len(every))) if self.setups is None else [int(s) for s in self.setups]
        bad = [s for s in wanted if not 0 <= s < len(every)]
        if bad or not wanted or len(set(wanted)) != len(wanted):
            raise ConfigError(
                f"--data.setups {wanted}: give distinct setup numbers between 0 and {len(every) - 1}, "
                f"e.g. {list(range(len(every)))} (--data.n_setups sets how many there are)"
            )
        return {s: every[s] for s in wanted}
