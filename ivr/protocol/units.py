"""Training units: the study's recipes as ``(demonstration form, demonstration count, probe form, share)``.

The study trains on *mixtures* of units named ``{p|r}{d|mixed|rand}_{p|r}1`` -- demonstration form
first, probe form second (``p200_r1``: 200 polar demonstrations, then a refined probe) -- and
``demo_{p|r}1`` (the person's demographic statements only, then a polar / refined probe). A mixture
name joins units with ``-`` (``p200_p1-r200_p1-p200_r1-r200_r1``). Here a run lists its units::

    units: [pmixed_p1, rmixed_p1, pmixed_r1, rmixed_r1]          # equal shares
    units: p200_p1-r200_p1-p200_r1-r200_r1                        # the study's mixture name
    units:
      - {unit: demo_p1, share: 1}                                 # a named unit with a share
      - {demo_form: polar, demo_count: "200", probe_form: refined, share: 0.5}

Shares are relative weights. Every question gets **exactly** its share of the ``N`` training
people chosen for it (``n_per_question``), by largest remainder (ties go to the earlier unit), so
N = 800 over the eight ``{p|r}{mixed|200}_{p|r}1`` units is 100 per unit and question, 200 per
(count, probe form). Which person serves which unit is a seeded draw over person ids; the people and
their unit stay fixed over epochs, their demonstrations are redrawn every epoch.

The older one-unit keys stay as shorthand: ``demo_count`` ("200", "mixed", "rand", "mixed+200"),
``probe_form`` (p, r, p+r) and ``demo_form`` (polar, refined, p, r, p+r) expand to every
combination with equal shares (``mixed+200`` x ``p+r`` x ``polar`` = pmixed_p1, pmixed_r1, p200_p1,
p200_r1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ivr.errors import IvrError
from ivr.protocol.sampling import MIXED_RANGE, RAND_RANGE

UNIT_DEMO_FORMS = ("polar", "refined", "demographics")
UNIT_PROBE_FORMS = ("polar", "refined")
COUNT_WORDS = ("mixed", "rand")
LEGACY_COUNTS = ("mixed", "rand", "mixed+200")
FORM_LETTERS = {"p": "polar", "r": "refined", "polar": "polar", "refined": "refined"}
FORM_CHOICES = {
    "p": ("polar",),
    "r": ("refined",),
    "polar": ("polar",),
    "refined": ("refined",),
    "p+r": ("polar", "refined"),
    "polar+refined": ("polar", "refined"),
}
_NAME = re.compile(r"^(?:(?P<demo>[pr])(?P<count>\d+|mixed|rand)|(?P<demographics>demo))_(?P<probe>[pr])1$")
TAG_UNITS = 24  # RNG stream tag of the person -> unit draw (examples.py uses 21-23)


class UnitError(IvrError, ValueError):
    """A unit or mixture spec is malformed; the message names it and shows the accepted forms."""


@dataclass(frozen=True)
class Unit:
    """One kind of training example.

    Attributes:
        demo_form: ``"polar"`` / ``"refined"`` demonstration statements, or ``"demographics"`` (the
            person's demographic statements only, no demonstrations).
        demo_count: demonstrations: an integer string (``"200"``), ``"mixed"`` (uniform 50..200) or
            ``"rand"`` (uniform 100..200); ignored for ``demographics``.
        probe_form: ``"polar"`` or ``"refined"`` probe options.
        share: relative weight among the run's units (normalised to sum to 1).
    """

    demo_form: str = "polar"
    demo_count: str = "200"
    probe_form: str = "polar"
    share: float = 1.0

    def __post_init__(self) -> None:
        demo = FORM_LETTERS.get(self.demo_form, self.demo_form)
        probe = FORM_LETTERS.get(self.probe_form, self.probe_form)
        count = "all" if demo == "demographics" else str(self.demo_count).strip()
        object.__setattr__(self, "demo_form", demo)
        object.__setattr__(self, "probe_form", probe)
        object.__setattr__(self, "demo_count", count)
        if demo not in UNIT_DEMO_FORMS:
            raise UnitError(f"unit demo_form={self.demo_form!r}: use one of {UNIT_DEMO_FORMS} (or p / r)")
        if probe not in UNIT_PROBE_FORMS:
            raise UnitError(f"unit probe_form={self.probe_form!r}: use one of {UNIT_PROBE_FORMS} (or p / r)")
        if demo != "demographics" and not (count.isdigit() or count in COUNT_WORDS):
            raise UnitError(f"unit demo_count={self.demo_count!r}: use an integer such as '200', 'mixed' or 'rand'")
        if not (isinstance(self.share, (int, float)) and self.share > 0):
            raise UnitError(f"unit {self.name}: share={self.share!r} must be a positive number")

    @property
    def name(self) -> str:
        """The study's name: ``p200_p1``, ``rmixed_r1``, ``demo_p1``."""
        probe = self.probe_form[0]
        if self.demo_form == "demographics":
            return f"demo_{probe}1"
        return f"{self.demo_form[0]}{self.demo_count}_{probe}1"

    @property
    def demographics_only(self) -> bool:
        return self.demo_form == "demographics"

    def describe_demos(self) -> str:
        """The demonstrations in words, e.g. ``polar, 50-200 (mixed)``."""
        if self.demographics_only:
            return "demographic statements only"
        if self.demo_count in COUNT_WORDS:
            lo, hi = MIXED_RANGE if self.demo_count == "mixed" else RAND_RANGE
            return f"{self.demo_form}, {lo}-{hi} ({self.demo_count})"
        return f"{self.demo_form}, {self.demo_count}"


def parse_unit(spec: Any) -> Unit:
    """A :class:`Unit` from a name (``p200_r1``), a mapping or a Unit.

    Mappings take ``unit``/``name`` (a study name) and ``share``, or the fields of :class:`Unit`.

    Raises:
        UnitError: naming the spec and the accepted forms.
    """
    if isinstance(spec, Unit):
        return spec
    if isinstance(spec, str):
        m = _NAME.match(spec.strip())
        if not m:
            raise UnitError(
                f"unit {spec!r}: use the study's names {{p|r}}{{200|mixed|rand|<d>}}_{{p|r}}1 (e.g. p200_p1, "
                "rmixed_r1) or demo_{p|r}1, or a mapping {demo_form, demo_count, probe_form, share}"
            )
        if m["demographics"]:
            return Unit("demographics", "all", FORM_LETTERS[m["probe"]])
        return Unit(FORM_LETTERS[m["demo"]], m["count"], FORM_LETTERS[m["probe"]])
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("unit", None) or spec.pop("name", None)
        unknown = sorted(set(spec) - {"demo_form", "demo_count", "probe_form", "share"})
        if unknown:
            raise UnitError(
                f"unit {spec!r}: unknown key(s) {unknown}; use unit/name + share, or demo_form, "
                "demo_count, probe_form, share"
            )
        if name is not None:
            if set(spec) - {"share"}:
                raise UnitError(f"unit {name!r}: give either a name or demo_form/demo_count/probe_form, not both")
            base = parse_unit(str(name))
            return Unit(base.demo_form, base.demo_count, base.probe_form, spec.get("share", 1.0))
        return Unit(**{k: (str(v) if k == "demo_count" else v) for k, v in spec.items()})
    raise UnitError(f"unit {spec!r}: expected a name such as 'p200_p1' or a mapping")


def parse_units(spec: str | Sequence[Any]) -> tuple[Unit, ...]:
    """Units from a mixture name (``a-b-c``) or a list of unit specs.

    Raises:
        UnitError: an empty list, a malformed unit, or the same unit twice (raise its share instead).
    """
    items = [s for s in spec.split("-") if s] if isinstance(spec, str) else list(spec)
    units = tuple(parse_unit(s) for s in items)
    if not units:
        raise UnitError(f"units {spec!r}: list at least one unit, e.g. [p200_p1, r200_r1]")
    names = [u.name for u in units]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UnitError(f"units {spec!r}: {dup} listed more than once; give one entry with a larger share")
    return units


def legacy_units(
    demo_count: str = "200", probe_form: str = "p+r", demo_form: str = "p+r", demographics: str = "none"
) -> tuple[Unit, ...]:
    """The units the one-unit keys stand for: every (count, probe form, demo form), equal shares
    (``demo_form="matched"``: each probe form with demonstrations in its own form only, as the matched
    evaluation shows them).

    Order follows the study's mixture names (demonstration form fastest, then probe form, then count).

    Raises:
        UnitError: naming the key and its accepted values.
    """
    count = str(demo_count).strip()
    if not (count.isdigit() or count in LEGACY_COUNTS):
        raise UnitError(f"demo_count={demo_count!r}: use an integer such as '200', or one of {LEGACY_COUNTS}")
    if probe_form not in FORM_CHOICES:
        raise UnitError(f"probe_form={probe_form!r} is not one of ('p', 'r', 'p+r')")
    if demo_form not in FORM_CHOICES and demo_form != "matched":
        raise UnitError(f"demo_form={demo_form!r} is not one of ('polar', 'refined', 'p', 'r', 'p+r', 'matched')")
    probes = FORM_CHOICES[probe_form]
    if demographics == "only":
        return tuple(Unit("demographics", "all", p) for p in probes)
    counts = ("mixed", "200") if count == "mixed+200" else (count,)
    return tuple(
        Unit(d, c, p)
        for c in counts
        for p in probes
        for d in ((p,) if demo_form == "matched" else FORM_CHOICES[demo_form])
    )


def allocate(n: int, shares: Iterable[float]) -> np.ndarray:
    """Exact integer split of ``n`` by relative shares (largest remainder; ties to the earlier unit)."""
    w = np.asarray(list(shares), dtype=np.float64)
    quota = n * w / w.sum()
    out = np.floor(quota + 1e-9).astype(np.int64)
    rest = np.argsort(-(quota - out), kind="stable")[: n - int(out.sum())]
    out[rest] += 1
    return out


def assign_units(people: list[np.ndarray], units: Sequence[Unit], seed: int) -> list[np.ndarray]:
    """Per question, the unit index of each chosen person: exact shares, a seeded draw over positions.

    Args:
        people: per question the chosen rows, in person-id order (:func:`ivr.protocol.examples.train_people`).
        units: the run's units.
        seed: the data seed.

    Returns:
        One int64 array per question, aligned with ``people[q]``.
    """
    shares = [u.share for u in units]
    out = []
    for q, rows in enumerate(people):
        counts = allocate(len(rows), shares)
        labels = np.repeat(np.arange(len(units)), counts)
        perm = np.random.default_rng([seed, TAG_UNITS, q]).permutation(len(rows))
        unit_of = np.empty(len(rows), dtype=np.int64)
        unit_of[perm] = labels
        out.append(unit_of)
    return out
