"""Probe setups: which value questions are held out and asked in each cross-validation setup.

The study's rule, applied to any codebook: setup ``s`` takes, in every category (in codebook
category order), the questions at positions ``(per_category * s + j) mod n_category`` for
``j = 0 .. per_category - 1`` (questions in codebook order). With the built-in WVS-7 codebook this
is Table 12 of the paper: 39 questions per setup, 108 distinct, because categories with only six
questions wrap around and setup 2 repeats setup 0 there.

Small surveys use folds instead (:func:`fold_setups`): the questions are dealt round-robin over the
categories, and setup ``s`` takes positions ``k * s .. k * s + k - 1`` of that order (wrapping), so
setups are disjoint while ``n_setups * k`` does not exceed the number of questions. Which rule and
which counts a survey uses is its protocol (:mod:`ivr.data.protocol`).
"""

from __future__ import annotations

import numpy as np

from ivr.errors import ConfigError, InputError
from ivr.catalog.codebook import Codebook


def _by_category(codebook: Codebook) -> dict[str, list[int]]:
    by_category: dict[str, list[int]] = {c: [] for c in codebook.categories}
    for i, q in enumerate(codebook.questions):
        by_category.setdefault(q.category, []).append(i)
    return by_category


def fold_setups(codebook: Codebook, n_setups: int, per_setup: int) -> list[np.ndarray]:
    """``n_setups`` setups of ``per_setup`` probes spread over the categories (module docstring).

    Returns:
        One int64 array per setup, ascending question indices.
    """
    if n_setups < 1 or per_setup < 1:
        raise ConfigError(f"--data.n_setups ({n_setups}) and --data.probes_per_setup ({per_setup}) must be >= 1")
    if not codebook.questions:
        raise InputError(f"codebook {codebook.name!r} has no value questions to probe")
    groups = [g for g in _by_category(codebook).values() if g]
    order = [g[r] for r in range(max(len(g) for g in groups)) for g in groups if r < len(g)]
    n = len(order)
    return [np.asarray(sorted({order[(per_setup * s + j) % n] for j in range(per_setup)}), dtype=np.int64)
            for s in range(n_setups)]


def probe_setups(codebook: Codebook, n_setups: int | None = None, per_category: int | None = None) -> list[np.ndarray]:
    """Question indices probed in each setup.

    Args:
        codebook: the survey codebook.
        n_setups: number of setups (the study uses 3: P0, P1, P2); None = the survey's protocol.
        per_category: questions taken from each category per setup (the study uses 3); None = the
            survey's protocol (which may use :func:`fold_setups` instead).

    Returns:
        One int64 array per setup of codebook question indices, grouped by category in codebook
        category order, codebook order within a category. A category with fewer than
        ``per_category`` questions contributes each of its questions once.

    Raises:
        ValueError: non-positive counts, or a codebook without questions.
    """
    if n_setups is None or per_category is None:
        from ivr.data.protocol import resolve_protocol

        protocol = resolve_protocol(codebook, {"n_setups": n_setups, "probes_per_category": per_category})
        return protocol.setups(codebook)
    if n_setups < 1 or per_category < 1:
        raise ConfigError(f"--data.n_setups ({n_setups}) and --data.probes_per_category ({per_category}) must be >= 1")
    if not codebook.questions:
        raise InputError(f"codebook {codebook.name!r} has no value questions to probe")
    by_category = _by_category(codebook)
    setups = []
    for s in range(n_setups):
        picked: list[int] = []
        for members in by_category.values():
            n = len(members)
            if n == 0:
                continue
            # dict.fromkeys keeps order and drops repeats when a category is smaller than per_category
            positions = dict.fromkeys((per_category * s + j) % n for j in range(per_category))
            picked.extend(members[p] for p in positions)
        setups.append(np.asarray(picked, dtype=np.int64))
    return setups


def all_probe_questions(setups: list[np.ndarray]) -> np.ndarray:
    """Sorted distinct question indices probed in any setup."""
    return np.unique(np.concatenate(setups)) if setups else np.zeros(0, dtype=np.int64)
