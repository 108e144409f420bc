"""Percentile-bootstrap 95% intervals over people for accuracy and sigma_INEQUITY.

People are the resampling unit: each replicate draws as many people as were evaluated, with
replacement, and recomputes every figure with each person weighted by how often they were drawn
(all their setups and forms together). Replicates are vectorised as a [B, P] count matrix whose
columns are the people in person-id order, so a person's draws follow their id, not the catalog row
they happen to sit in: a catalog with its rows shuffled gives the same intervals.

sigma_INEQUITY is a spread of group means, and resampling adds noise to every group mean, so with
many small groups (countries, birth countries) the replicates are biased upwards and the
percentile interval can lie above the point estimate; ``min_group_size`` reduces this.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ivr.metrics.predictions import FORM_NAMES
from ivr.metrics.scores import PersonScores

TAG_BOOTSTRAP = 21
CHUNK = 250  # replicates per block, to bound memory


def _draw_counts(rng: np.random.Generator, n_people: int, n_rep: int) -> np.ndarray:
    """[n_rep, n_people] times each person is drawn in each replicate."""
    return rng.multinomial(n_people, np.full(n_people, 1.0 / n_people), size=n_rep).astype(np.float64)


def _weighted_std_rows(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Row-wise sample std (ddof=1) of x over entries where ok; nan with < 2 entries."""
    k = ok.sum(axis=1)
    xs = np.where(ok, x, 0.0)
    mean = xs.sum(axis=1) / np.maximum(k, 1)
    var = (np.where(ok, (x - mean[:, None]) ** 2, 0.0)).sum(axis=1) / np.maximum(k - 1, 1)
    return np.where(k >= 2, np.sqrt(var), np.nan)


def id_order(ids: np.ndarray) -> np.ndarray:
    """Catalog rows sorted by person id (stable: a repeated id keeps its rows' order)."""
    return np.argsort(np.asarray(ids), kind="stable")


def bootstrap_ci(
    scores: PersonScores,
    groups: Mapping[str, np.ndarray] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    min_group_size: int = 1,
    level: float = 0.95,
    ids: np.ndarray | None = None,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals for every accuracy figure and sigma_INEQUITY.

    Args:
        scores: per (person, setup, form) scores.
        groups: dimension -> group label per catalog row (None missing); adds ``inequity/<form>``.
        n_boot: replicates (0 returns {}).
        seed: RNG seed.
        min_group_size: as in :func:`ivr.metrics.inequity.group_accuracy` (people in the replicate,
            counted with multiplicity).
        level: interval coverage.
        ids: person id per catalog row (``Catalog.person_ids``): the draws are keyed on them (people in id
            order), so the intervals do not depend on the catalog's row order. None: rows stand for ids.

    Returns:
        name -> (low, high): ``polar/p0`` ..., ``polar_avg``, ``refined_avg``, ``all``, ``inequity/polar``
        ..., and every group's accuracy as ``group/<form>/<dimension>/<group>``.
    """
    if n_boot <= 0 or len(scores.person) == 0:
        return {}
    people, pidx = np.unique(scores.person, return_inverse=True)
    pidx = pidx.reshape(-1)
    if ids is not None:  # people (and every per-person array below) in person-id order
        by_id = id_order(np.asarray(ids)[people])
        people, pidx = people[by_id], np.argsort(by_id)[pidx]
    n_people = len(people)
    cells = sorted({(int(f), int(s)) for f, s in zip(scores.form, scores.setup)})
    # acc[p, c] and present[p, c] per (form, setup) cell
    acc = np.zeros((n_people, len(cells)))
    present = np.zeros((n_people, len(cells)))
    col = {c: i for i, c in enumerate(cells)}
    cidx = np.array([col[(int(f), int(s))] for f, s in zip(scores.form, scores.setup)])
    acc[pidx, cidx] = scores.acc
    present[pidx, cidx] = 1.0
    # per dimension and form: onehot group membership, per-person sum of setup accuracies and entries
    ineq_inputs = []
    forms = sorted({f for f, _ in cells})
    for f in forms:
        fcols = [i for i, (ff, _) in enumerate(cells) if ff == f]
        s_p, n_p = acc[:, fcols].sum(axis=1), present[:, fcols].sum(axis=1)
        dims = []
        for dim, labels in (groups or {}).items():
            lab = np.asarray(labels, dtype=object)[people]
            ok = np.array([v is not None for v in lab]) & (n_p > 0)
            if not ok.any():
                continue
            names, inv = np.unique(lab[ok].astype(str), return_inverse=True)
            onehot = np.zeros((n_people, len(names)))
            onehot[np.flatnonzero(ok), inv.reshape(-1)] = 1.0
            dims.append((dim, names, np.stack([onehot * s_p[:, None], onehot * n_p[:, None], onehot], axis=0)))
        ineq_inputs.append((f, dims))
    rng = np.random.default_rng([seed, TAG_BOOTSTRAP])
    samples: dict[str, list[np.ndarray]] = {}
    for start in range(0, n_boot, CHUNK):
        b = min(CHUNK, n_boot - start)
        w = _draw_counts(rng, n_people, b)
        with np.errstate(invalid="ignore", divide="ignore"):
            cell_acc = (w @ acc) / (w @ present) * 100  # [b, cells]
        avgs = {}
        for f in forms:
            fcols = [i for i, (ff, _) in enumerate(cells) if ff == f]
            for i in fcols:
                samples.setdefault(f"{FORM_NAMES[f]}/p{cells[i][1]}", []).append(cell_acc[:, i])
            avgs[f] = cell_acc[:, fcols].mean(axis=1)
            samples.setdefault(f"{FORM_NAMES[f]}_avg", []).append(avgs[f])
        if len(avgs) == 2:
            samples.setdefault("all", []).append((avgs[0] + avgs[1]) / 2)
        for f, dims in ineq_inputs:
            if not dims:
                continue
            sigmas = []
            for dim, names, stacked in dims:
                num, den, cnt = (w @ stacked[0]), (w @ stacked[1]), (w @ stacked[2])
                ok = (den > 0) & (cnt >= min_group_size)
                with np.errstate(invalid="ignore", divide="ignore"):
                    group_acc = num / den * 100
                    sigmas.append(_weighted_std_rows(group_acc, ok))
                for k, name in enumerate(names):
                    samples.setdefault(f"group/{FORM_NAMES[f]}/{dim}/{name}", []).append(
                        np.where(ok[:, k], group_acc[:, k], np.nan)
                    )
            with np.errstate(invalid="ignore"):
                sig = np.array(sigmas)  # [dims, b]
                valid = ~np.isnan(sig)
                index = np.where(valid.any(axis=0), np.nansum(sig, axis=0) / np.maximum(valid.sum(axis=0), 1), np.nan)
            samples.setdefault(f"inequity/{FORM_NAMES[f]}", []).append(index)
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    out = {}
    for name, parts in samples.items():
        v = np.concatenate(parts)
        v = v[~np.isnan(v)]
        out[name] = (float(np.percentile(v, lo)), float(np.percentile(v, hi))) if len(v) else (float("nan"),) * 2
    return out
