"""Probe setups: which value questions are held out and asked in each cross-validation setup.

The study's rule, applied to any codebook: setup ``s`` takes, in every category (in codebook
category order), the questions at positions ``(per_category * s + j) mod n_category`` for
``j = 0 .. per_category - 1`` (questions in codebook order). With the built-in WVS-7 codebook this
is Table 12 of the paper: 39 questions per setup, 108 distinct, because categories with only six
questions wrap around and setup 2 repeats setup 0 there.
"""

from __future__ import annotations

import numpy as np

from ivr.errors import ConfigError, InputError
from ivr.catalog.codebook import Codebook


def probe_setups(codebook: Codebook, n_setups: int = 3, per_category: int = 3) -> list[np.ndarray]:
    """Question indices probed in each setup.

    Args:
        codebook: the survey codebook.
        n_setups: number of setups (the study uses 3: P0, P1, P2).
        per_category: questions taken from each category per setup (the study uses 3).

    Returns:
        One int64 array per setup of codebook question indices, grouped by category in codebook
        category order, codebook order within a category. A category with fewer than
        ``per_category`` questions contributes each of its questions once.

    Raises:
        ValueError: non-positive counts, or a codebook without questions.
    """
    if n_setups < 1 or per_category < 1:
        raise ConfigError(f"n_setups ({n_setups}) and per_category ({per_category}) must be >= 1")
    if not codebook.questions:
        raise InputError(f"codebook {codebook.name!r} has no value questions to probe")
    by_category: dict[str, list[int]] = {c: [] for c in codebook.categories}
    for i, q in enumerate(codebook.questions):
        by_category.setdefault(q.category, []).append(i)
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
