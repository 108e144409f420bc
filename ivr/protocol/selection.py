"""Which people and questions a data module reads: training-people filters, demonstration categories and
training units (the data module's set-up helpers; the catalog itself opens with
:func:`ivr.catalog.resolve.open_catalog`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ivr.catalog.codebook import Codebook
from ivr.catalog.store import Catalog
from ivr.protocol.units import Unit, UnitError, legacy_units, parse_units
from ivr.errors import ConfigError

__all__ = ["demo_questions", "filter_rows", "training_units"]


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
            raise ConfigError(f"eval_demo_categories: unknown category {c!r}; known categories: {list(codebook.categories)}")
    wanted = set(categories)
    return tuple(j for j, q in enumerate(codebook.questions) if q.category in wanted)


def training_units(units: str | list[Any] | None, demo_count: str | None, probe_form: str | None,
                   demo_form: str | None, demographics: str) -> tuple[Unit, ...]:
    """The run's units: ``units``, else the one-unit shorthand keys (defaults 200 x p+r x p+r).

    Raises:
        UnitError: both ways given, or a malformed unit / key.
    """
    shorthand = {"demo_count": demo_count, "probe_form": probe_form, "demo_form": demo_form}
    if units is not None:
        given = [k for k, v in shorthand.items() if v is not None]
        if given:
            raise UnitError(f"data.units and data.{'/'.join(given)} both describe the training examples; give the "
                            "units only (e.g. units: [pmixed_p1, rmixed_r1]) or the shorthand keys only")
        return parse_units(units)
    return legacy_units(str(demo_count or "200"), probe_form or "p+r", demo_form or "p+r", demographics)
