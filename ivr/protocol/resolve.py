"""The evaluation protocol of a survey: probe setups, eligibility, demonstration counts and the split.

Three layers, later ones winning key by key:

1. **defaults derived from the survey's size** (:func:`default_protocol`). A survey large enough
   for the study's protocol (at least ``200 + 3 x categories`` questions, as WVS-7 with 253) gets
   it exactly: 3 setups of 3 probes per category (Table 12), eligibility ``200 + probes per setup``
   valid answers (239), 200 demonstrations for evaluation and training, and the 800-person
   ``study`` rule when the codebook has a ``continent`` role. A smaller survey gets a
   cross-validated protocol: 3 disjoint setups of ``max(1, Q // 4)`` probes spread over the
   categories, every non-probe answer as demonstrations (``all``), eligibility ``probes per setup
   + half of the other questions``, the ``stratified`` rule and one evaluation person in five of
   the eligible ones (at most 800).
2. the codebook's optional ``protocol:`` section (same keys, see :data:`PROTOCOL_KEYS`);
3. the ``--data.KEY`` flags of every entry point (their one schema,
   :class:`ivr.settings.ProtocolSettings`, shared by ``DataSettings`` and the data module's arguments).

``python -m ivr.catalog protocol CATALOG`` prints the result (:mod:`ivr.protocol.describe`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ivr.catalog.codebook import PROTOCOL_KEYS, Codebook
from ivr.errors import ConfigError

STUDY_SETUPS = 3
STUDY_PER_CATEGORY = 3
STUDY_DEMOS = 200
STUDY_SIZE = 800
SMALL_EVAL_SHARE = 5  # a small survey evaluates one eligible person in five


@dataclass(frozen=True)
class Protocol:
    """The resolved protocol (every key set except ``min_valid`` / ``split_size`` = derived).

    Attributes:
        n_setups: number of probe setups (P0, P1, ...).
        probes_per_category: probes each category gives a setup (the study's rule), or None.
        probes_per_setup: probes per setup spread over the categories (cross-validation folds), or None.
        min_valid: valid answers an evaluation person needs; None = derived from the setups.
        eval_demo_count: demonstrations per evaluation example: an integer string, ``all``, or a drawn count
            (``mixed`` 50..200, ``rand`` 100..200, as in :mod:`ivr.protocol.sampling`).
        demo_count: demonstrations per training example: an integer string, ``mixed``, ``rand``,
            ``mixed+200``, ``all`` or ``setup`` (as many as an evaluation setup leaves: the questions
            less one setup's probes, so every other answered question of a training person is a probe
            with a label, as at evaluation, instead of one target per sequence).
        split_rule: ``study`` or ``stratified``.
        split_size: evaluation people; None = one eligible person in five (at most 800).
        study: True when the survey is large enough for the study's defaults.
        origin: key -> where its value came from (``default``, ``codebook`` or ``flag``).
    """

    n_setups: int
    probes_per_category: int | None
    probes_per_setup: int | None
    min_valid: int | None
    eval_demo_count: str
    demo_count: str
    split_rule: str
    split_size: int | None
    study: bool = True
    origin: dict[str, str] = field(default_factory=dict, compare=False)

    def setups(self, codebook: Codebook) -> list[np.ndarray]:
        """Probe question indices of every setup (:mod:`ivr.protocol.probes`)."""
        from ivr.protocol.probes import fold_setups, probe_setups

        if self.probes_per_setup is not None:
            return fold_setups(codebook, self.n_setups, self.probes_per_setup)
        return probe_setups(codebook, self.n_setups, self.probes_per_category)

    def min_valid_for(self, setups: list[np.ndarray], n_questions: int) -> int:
        """The eligibility threshold for these setups (the set value, else the derived one)."""
        if self.min_valid is not None:
            return int(self.min_valid)
        widest = max((len(s) for s in setups), default=0)
        if self.study:
            return STUDY_DEMOS + widest
        return widest + max(1, (n_questions - widest) // 2)

    def size_for(self, n_eligible: int) -> int:
        """The number of evaluation people (the set value, else one in five eligible, 2..800)."""
        if self.split_size is not None:
            return int(self.split_size)
        return int(min(STUDY_SIZE, max(2, n_eligible // SMALL_EVAL_SHARE)))

    def demos(self, which: str, codebook: Codebook) -> str:
        """``eval_demo_count`` / ``demo_count`` for the samplers: ``all`` becomes the question count,
        ``setup`` the questions a setup leaves (question count less the probes of one setup)."""
        value = str(getattr(self, which))
        if value == "setup":
            probes = (
                self.probes_per_setup
                if self.probes_per_setup is not None
                else (self.probes_per_category or 0) * len(codebook.categories)
            )
            return str(max(1, len(codebook.questions) - probes))
        return str(len(codebook.questions)) if value == "all" else value

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in PROTOCOL_KEYS}


def is_study_sized(codebook: Codebook) -> bool:
    """Whether 200 demonstrations fit beside the study's probes (WVS-7: 253 >= 200 + 3 x 13)."""
    return len(codebook.questions) >= STUDY_DEMOS + STUDY_PER_CATEGORY * len(codebook.categories)


def default_protocol(codebook: Codebook) -> dict[str, Any]:
    """The defaults derived from the survey's size (module docstring)."""
    if is_study_sized(codebook):
        return {
            "n_setups": STUDY_SETUPS,
            "probes_per_category": STUDY_PER_CATEGORY,
            "probes_per_setup": None,
            "min_valid": None,
            "eval_demo_count": str(STUDY_DEMOS),
            "demo_count": str(STUDY_DEMOS),
            "split_rule": "study" if "continent" in codebook.roles else "stratified",
            "split_size": STUDY_SIZE,
        }
    n_q = len(codebook.questions)
    return {
        "n_setups": min(STUDY_SETUPS, n_q),
        "probes_per_category": None,
        "probes_per_setup": max(1, n_q // 4),
        "min_valid": None,
        "eval_demo_count": "all",
        "demo_count": "all",
        "split_rule": "stratified",
        "split_size": None,
    }


def _check(values: dict[str, Any], origin: dict[str, str], codebook: Codebook) -> None:
    def where(key: str) -> str:
        return (
            f"protocol.{key} in codebook {codebook.source or codebook.name}"
            if origin.get(key) == "codebook"
            else f"--data.{key}"
        )

    for key in ("n_setups", "probes_per_category", "probes_per_setup", "min_valid", "split_size"):
        v, low = values[key], 0 if key == "min_valid" else 1
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low):
            raise ConfigError(f"{where(key)}={v!r}: use an integer >= {low}")
    for key in ("eval_demo_count", "demo_count"):
        v = str(values[key])
        allowed = (
            ("all", "mixed", "rand") if key == "eval_demo_count" else ("all", "mixed", "rand", "mixed+200", "setup")
        )
        if not (v.isdigit() or v in allowed):
            raise ConfigError(f"{where(key)}={v!r}: use an integer such as 200 or one of {list(allowed)}")
    if values["split_rule"] not in ("study", "stratified"):
        raise ConfigError(f"{where('split_rule')}={values['split_rule']!r}: use study or stratified")
    n_q = len(codebook.questions)
    if values["probes_per_setup"] is not None and values["probes_per_setup"] >= n_q:
        raise ConfigError(
            f"{where('probes_per_setup')}={values['probes_per_setup']}: this survey has {n_q} "
            f"questions, so a setup must leave some as demonstrations; use at most {n_q - 1}"
        )


def resolve_protocol(codebook: Codebook, overrides: Mapping[str, Any] | None = None) -> Protocol:
    """Defaults, then the codebook's ``protocol:`` section, then ``overrides`` (None values are unset).

    ``probes_per_category`` and ``probes_per_setup`` replace each other: setting one (in the
    codebook or by flag) clears the other of the layer below.

    Raises:
        ConfigError: a value that cannot work, naming the flag (or the codebook key) and the fix.
    """
    values = default_protocol(codebook)
    origin = {k: "default" for k in values}
    for layer, name in ((codebook.protocol, "codebook"), (overrides or {}, "flag")):
        given = {k: v for k, v in layer.items() if k in PROTOCOL_KEYS and v is not None}
        if "probes_per_category" in given and "probes_per_setup" not in given:
            values["probes_per_setup"] = None
        if "probes_per_setup" in given and "probes_per_category" not in given:
            values["probes_per_category"] = None
        for k, v in given.items():
            values[k] = str(v) if k in ("eval_demo_count", "demo_count") else v
            origin[k] = name
    if values["probes_per_category"] is None and values["probes_per_setup"] is None:
        values["probes_per_category"] = STUDY_PER_CATEGORY
    _check(values, origin, codebook)
    return Protocol(**values, study=is_study_sized(codebook), origin=origin)


def protocol_split(
    catalog: Any,
    overrides: Mapping[str, Any] | None,
    seed: int,
    ids_file: str | None = None,
    setups: list[np.ndarray] | None = None,
) -> tuple[Protocol, list[np.ndarray], Any]:
    """The protocol, its setups and the evaluation split (:func:`ivr.protocol.splits.make_split`) in one step.

    Eligibility uses every setup of the protocol (``setups`` replaces them when given).

    Raises:
        ConfigError: ``split_size`` larger than the population, or any impossible protocol (naming the flag).
    """
    from ivr.protocol.splits import make_split

    protocol = resolve_protocol(catalog.codebook, overrides)
    setups = protocol.setups(catalog.codebook) if setups is None else setups
    if ids_file is None and protocol.split_size is not None and protocol.split_size > len(catalog):
        raise ConfigError(
            f"--data.split_size {protocol.split_size} is larger than the catalog's population of "
            f"{len(catalog)} people; lower --data.split_size"
        )
    split = make_split(
        catalog,
        size=protocol.split_size,
        seed=seed,
        rule=protocol.split_rule,
        ids_file=ids_file,
        setups=setups,
        min_valid=protocol.min_valid,
    )
    return protocol, setups, split
