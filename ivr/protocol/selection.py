"""Which people and questions a data module reads: training-people filters, demonstration categories and
training units (the data module's set-up helpers; the catalog itself opens with
:func:`ivr.catalog.resolve.open_catalog`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ivr.catalog.codebook import Codebook
from ivr.catalog.store import Catalog
from ivr.errors import ConfigError
from ivr.protocol.units import Unit, UnitError, legacy_units, parse_units

__all__ = ["counts_for_survey", "demo_questions", "filter_rows", "training_units"]


def filter_rows(catalog: Catalog, rows: np.ndarray, spec: str | None) -> np.ndarray:
    """Keep the rows matching a predicate such as ``continent=Europe`` or ``Q260=1;X003R!=1|2``.

    Clauses are joined by ``;`` (all must hold); each is ``key=v1|v2`` or ``key!=v1|v2``. ``key``
    is a codebook role (``continent``), dimension name or demographic id; a value matches the
    value name, the group label or the raw code.

    Raises:
        ValueError: naming the clause, the unknown key (with the known ones) or a value no one has.
    """
    if not spec:
        return rows
    cb, keep = catalog.codebook, np.ones(len(rows), dtype=bool)
    ids = {d.id: d for d in cb.demographics}
    for clause in [c.strip() for c in spec.split(";") if c.strip()]:
        neg = "!=" in clause
        key, _, value = clause.partition("!=" if neg else "=")
        key = key.strip()
        demo = ids.get(cb.roles.get(key, "")) or ids.get(key) or cb.dimensions.get(key)
        if demo is None or not value:
            raise ConfigError(
                f"train_filter clause {clause!r}: use key=value with key one of roles {sorted(cb.roles)}, "
                f"dimensions {sorted(cb.dimensions)} or demographic ids"
            )
        wanted = {v.strip() for v in value.split("|")}
        codes = catalog.demographic_codes(demo.id)[rows]
        names = catalog.demographic_values(demo.id)[rows]
        groups = np.array([demo.group(int(c)) if c >= 0 else None for c in codes], dtype=object)
        hit = np.array([str(c) in wanted or n in wanted or g in wanted for c, n, g in zip(codes, names, groups)])
        if not neg and not hit.any():
            raise ConfigError(f"train_filter clause {clause!r}: no training person has that value of {demo.id}")
        keep &= ~hit if neg else hit
    return rows[keep]


def demo_questions(codebook: Codebook, categories: list[str] | None) -> tuple[int, ...] | None:
    """Question indices of the given categories (codebook order); None when ``categories`` is None.

    Raises:
        ValueError: naming ``eval_demo_categories``, an unknown category and the known ones.
    """
    if categories is None:
        return None
    if isinstance(categories, str):
        categories = [categories]
    for c in categories:
        if c not in codebook.categories:
            raise ConfigError(
                f"eval_demo_categories: unknown category {c!r}; known categories: {list(codebook.categories)}"
            )
    wanted = set(categories)
    return tuple(j for j, q in enumerate(codebook.questions) if q.category in wanted)


def training_units(
    units: str | list[Any] | None,
    demo_count: str | None,
    probe_form: str | None,
    demo_form: str | None,
    demographics: str,
) -> tuple[Unit, ...]:
    """The run's units: ``units``, else the one-unit shorthand keys (defaults 200 x p+r x p+r).

    Raises:
        UnitError: both ways given, or a malformed unit / key.
    """
    shorthand = {"demo_count": demo_count, "probe_form": probe_form, "demo_form": demo_form}
    if units is not None:
        given = [k for k, v in shorthand.items() if v is not None]
        if given:
            raise UnitError(
                f"data.units and data.{'/'.join(given)} both describe the training examples; give the "
                "units only (e.g. units: [pmixed_p1, rmixed_r1]) or the shorthand keys only"
            )
        return parse_units(units)
    return legacy_units(str(demo_count or "200"), probe_form or "p+r", demo_form or "p+r", demographics)


def _fewest(count: str) -> int | None:
    """The fewest demonstrations a count spec asks (``mixed`` 50, ``rand`` 100); None for ``all``/``setup``."""
    from ivr.protocol.sampling import MIXED_RANGE, RAND_RANGE

    count = str(count)
    if count.isdigit():
        return int(count)
    return {"mixed": MIXED_RANGE[0], "rand": RAND_RANGE[0], "mixed+200": MIXED_RANGE[0]}.get(count)


def counts_for_survey(
    units: tuple[Unit, ...],
    eval_count: str | None,
    protocol: Any,
    codebook: Codebook,
    setups: list[np.ndarray],
    protocol_eval: str,
) -> tuple[tuple[Unit, ...], str | None, str | None]:
    """Demonstration counts sized for the study (``configs/tiny.yaml``: 50-200 per training example, 200 per
    evaluation example) on a survey too small to give them: they follow the catalog's protocol.

    A survey smaller than the study's (``protocol.study`` False) whose setups leave fewer questions than a
    training unit's fewest demonstrations would show every answer but the target as a demonstration (one
    label per sequence, on a model sized for 50-200 statements): such units take the protocol's training
    count as ``demo_count: setup`` gives it (the questions a setup leaves; the other answers are labelled
    probes), and an evaluation count above what a setup leaves becomes the protocol's.

    Args:
        protocol_eval: the evaluation count of the catalog's protocol without the flags (default or codebook).

    Returns:
        (units, evaluation count (``protocol_eval`` when it changed), one line saying what changed -- None when
        nothing did).
    """
    if protocol.study:
        return units, eval_count, None
    leaves = len(codebook.questions) - max((len(s) for s in setups), default=0)
    fits = replace(protocol, demo_count="setup").demos("demo_count", codebook)
    over = [u for u in units if not u.demographics_only and (_fewest(u.demo_count) or 0) > leaves]
    eval_over = eval_count is not None and (_fewest(eval_count) or 0) > leaves
    if not over and not eval_over:
        return units, eval_count, None
    changed = []
    if over:
        units = tuple(replace(u, demo_count=fits) if u in over else u for u in units)
        asked = sorted({str(u.demo_count) for u in over})
        changed.append(f"training demonstrations {'/'.join(asked)} -> {fits} (the other answers are probes)")
    if eval_over:
        changed.append(f"evaluation demonstrations {eval_count} -> {protocol_eval}")
        eval_count = protocol_eval
    line = (
        f"this survey has {len(codebook.questions)} questions and a probe setup leaves {leaves}, fewer than the "
        f"config's demonstration counts ask: following the catalog's protocol, {'; '.join(changed)} "
        "(configs/tiny_survey.yaml is the recipe sized for a survey like this)"
    )
    return units, eval_count, line
