"""Probe setups: which value questions are held out and asked in each cross-validation setup.

The study's rule, applied to any codebook: setup ``s`` takes, in every category (in codebook
category order), the questions at positions ``(per_category * s + j) mod n_category`` for
``j = 0 .. per_category - 1`` (questions in codebook order). With the built-in WVS-7 codebook this
is Table 12 of the paper: 39 questions per setup, 108 distinct, because categories with only six
questions wrap around and setup 2 repeats setup 0 there.

Small surveys use folds instead (:func:`fold_setups`): the questions are dealt round-robin over the
categories, and setup ``s`` takes positions ``k * s .. k * s + k - 1`` of that order (wrapping), so
setups are disjoint while ``n_setups * k`` does not exceed the number of questions. Which rule and
which counts a survey uses is its protocol (:mod:`ivr.protocol.resolve`).

A question marked ``probe: false`` in its codebook is never a probe (it stays a demonstration). A probe
question nobody answered, or whose answers all fall in one option, is refused
(:func:`check_probe_answers`): it cannot tell predictors apart and would inflate majority baselines.
"""

from __future__ import annotations

import numpy as np

from ivr.catalog.codebook import Codebook
from ivr.catalog.store import Catalog
from ivr.errors import ConfigError, InputError


def _by_category(codebook: Codebook) -> dict[str, list[int]]:
    """Probe-able questions (not ``probe: false``) per category, in codebook order."""
    by_category: dict[str, list[int]] = {c: [] for c in codebook.categories}
    for i, q in enumerate(codebook.questions):
        if q.probe:
            by_category.setdefault(q.category, []).append(i)
    if codebook.questions and not any(by_category.values()):
        raise InputError(
            f"codebook {codebook.source or codebook.name}: every question is marked 'probe: false', "
            "so there is nothing to probe; remove 'probe: false' from some questions"
        )
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
    return [
        np.asarray(sorted({order[(per_setup * s + j) % n] for j in range(per_setup)}), dtype=np.int64)
        for s in range(n_setups)
    ]


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
        from ivr.protocol.resolve import resolve_protocol

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


def _empty_reason(catalog: Catalog, qid: str) -> str:
    """Why a question has no valid answer, from the build report when the catalog has one."""
    entry = (catalog.report.get("questions") or {}).get(qid) if catalog.report else None
    if not entry:
        return f"none of the catalog's {len(catalog):,} people answered it"
    parts = [f"{entry['blank']:,} blank"] if entry.get("blank") else []
    parts += [f"{n:,} x code {c} (declared missing)" for c, n in entry.get("missing_codes", {}).items()]
    parts += [f"{n:,} x code {c} (outside the codebook, read as missing)" for c, n in entry.get("unlisted", {}).items()]
    return f"its {entry.get('read', len(catalog)):,} cells in the survey file hold {', '.join(parts)}"


def check_probe_answers(catalog: Catalog, setups: list[np.ndarray]) -> None:
    """Refuse probe questions without a valid answer, or whose answers all fall in one refined option.

    Raises:
        InputError: naming the question (and, from the build report, the codes its cells hold) and the fix.
    """
    cb = catalog.codebook
    rebuild = "then rebuild the catalog (python -m ivr.catalog build)"
    for q in all_probe_questions(setups).tolist():
        qid = cb.question_ids[q]
        answers = catalog.refined[:, q]
        used = np.unique(answers[answers >= 0])
        if used.size == 0:
            raise InputError(
                f"the catalog lacks probe question {qid!r}: it has no valid answer, {_empty_reason(catalog, qid)}; "
                f"in codebook "
                f"{cb.name!r} drop the question, list the codes that are answers under its 'codes:', or mark it "
                f"'probe: false'; {rebuild}"
            )
        if used.size == 1:
            option = cb.questions[q].refined[int(used[0])].statement
            raise InputError(
                f"probe question {qid!r} is constant: all {int((answers >= 0).sum()):,} people who answered it chose "
                f"{option!r}, so it cannot tell predictors apart and inflates the majority baselines; in codebook "
                f"{cb.name!r} mark it 'probe: false' (it stays a demonstration) or drop the question; {rebuild}"
            )


def all_probe_questions(setups: list[np.ndarray]) -> np.ndarray:
    """Sorted distinct question indices probed in any setup."""
    return np.unique(np.concatenate(setups)) if setups else np.zeros(0, dtype=np.int64)
