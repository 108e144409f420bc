"""Distributional fit per demographic group: predicted answer distributions against observed ones.

For every probe form, question and group (one group per value of each demographic dimension, plus
``all`` = every evaluated person), the predicted distribution is the mean of the predicted option
probabilities over the group's scored probes and the observed one the share of each option among
their answers. The two are compared by

* the 1-Wasserstein distance on ordered options (questions with ``ordered: true`` in the codebook; in
  the WVS-7 codebooks the default follows the type, ``scale_*`` and ``mc_2``-``mc_5``, its Likert-style
  answers; :func:`ordered_questions`), computed as
  ``sum_k |CDF_pred(k) - CDF_obs(k)|`` and divided by ``n_options - 1`` so that 0 is a perfect fit and
  1 all mass at opposite ends;
* the Jensen-Shannon divergence (base 2, in [0, 1]) on unordered options.

Per dimension, the figure is the mean over (question, group) cells weighted by the cell's number of
answers (so a group of 3 people counts as 3 people, not as much as a group of 300). Everything is
computed from two sums per cell (:func:`cell_sums`), so the torchmetrics version
(:class:`ivr.metrics.distribution_metric.GroupDistribution`) only has to add them up across ranks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ivr.metrics.predictions import FORM_NAMES, Predictions, pad_probs

ALL = "all"


def ordered_questions(codebook) -> np.ndarray:
    """bool [Q]: whether question q's options are ordered (its codebook ``ordered:`` flag)."""
    return np.array([q.ordered for q in codebook.questions], dtype=bool)


@dataclass(frozen=True)
class GroupIndex:
    """Every (dimension, group) cell as one integer, and each catalog row's cell per dimension.

    Attributes:
        names: ``(dimension, group)`` per cell; cell 0 is ``("all", "all")``.
        rows: int [D + 1, N rows], the cell of each row per dimension (-1 = no group); row 0 is ``all``.
    """

    names: tuple[tuple[str, str], ...]
    rows: np.ndarray

    @classmethod
    def build(cls, groups: Mapping[str, np.ndarray] | None, n_rows: int) -> GroupIndex:
        """From dimension -> group label per catalog row (``ivr.metrics.catalog_groups``; None missing)."""
        names: list[tuple[str, str]] = [(ALL, ALL)]
        rows = [np.zeros(n_rows, dtype=np.int64)]
        for dim, labels in (groups or {}).items():
            lab = np.asarray(labels, dtype=object)
            ok = np.array([v is not None for v in lab], dtype=bool)
            values = sorted({str(v) for v in lab[ok]})
            start = len(names)
            names += [(dim, v) for v in values]
            lookup = {v: start + i for i, v in enumerate(values)}
            rows.append(np.array([lookup[str(v)] if v is not None else -1 for v in lab], dtype=np.int64))
        return cls(tuple(names), np.stack(rows))


def cell_sums(preds: Predictions, index: GroupIndex, n_questions: int, n_options: int) -> tuple[np.ndarray, np.ndarray]:
    """Predicted probability mass and observed answer counts per (form, cell, question, option).

    Only scored rows with probabilities count. Returns two float64 [2, cells, Q, O] arrays.
    """
    shape = (len(FORM_NAMES), len(index.names), n_questions, n_options)
    mass, count = np.zeros(shape), np.zeros(shape)
    if preds.probs is None or not len(preds):
        return mass, count
    probs = pad_probs(preds.probs[:, :n_options], n_options)  # as wide as the widest question
    ok = (preds.target >= 0) & ~np.isnan(probs).all(axis=1)
    p = np.nan_to_num(probs[ok], nan=0.0)
    total = p.sum(axis=1, keepdims=True)
    p = np.divide(p, total, out=np.zeros_like(p), where=total > 0)
    form, question, target, person = preds.form[ok], preds.question[ok], preds.target[ok], preds.person[ok]
    for cells in index.rows[:, person]:
        keep = cells >= 0
        np.add.at(mass, (form[keep], cells[keep], question[keep]), p[keep])
        np.add.at(count, (form[keep], cells[keep], question[keep], target[keep]), 1.0)
    return mass, count


def cell_distances(
    mass: np.ndarray, count: np.ndarray, ordered: np.ndarray, n_opt: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell distance and weight (answers) of one form's :func:`cell_sums` arrays ([cells, Q, O]).

    Args:
        mass, count: predicted mass and observed counts.
        ordered: bool [Q], W1 (True) or JS (False).
        n_opt: int [Q], the form's number of options per question (W1 is divided by ``n_opt - 1``).

    Returns:
        distance [..., Q] (nan where the cell has no answers) and weight [..., Q] (answers in the cell).
    """
    n = count.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pred = mass / n[..., None]
        obs = count / n[..., None]
    w1 = np.abs(np.cumsum(pred - obs, axis=-1))[..., :-1].sum(axis=-1) / np.maximum(np.asarray(n_opt) - 1, 1)
    m = (pred + obs) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        kl_p = np.where(pred > 0, pred * np.log2(pred / m), 0.0).sum(axis=-1)
        kl_o = np.where(obs > 0, obs * np.log2(obs / m), 0.0).sum(axis=-1)
    js = (kl_p + kl_o) / 2
    dist = np.where(ordered, w1, js)
    return np.where(n > 0, dist, np.nan), n


def option_counts(codebook) -> np.ndarray:
    """int [2, Q]: options per question in each form (``FORM_NAMES`` order)."""
    return np.stack([np.asarray(codebook.n_options(f), dtype=np.int64) for f in FORM_NAMES])


def summarize_fit(
    mass: np.ndarray, count: np.ndarray, index: GroupIndex, ordered: np.ndarray, n_opt: np.ndarray
) -> dict[str, dict[str, dict[str, float]]]:
    """Answer-weighted mean distance per dimension, separately for ordered (W1) and unordered (JS) questions.

    Returns:
        form -> dimension (``all`` first) -> {"w1", "js", "answers", "groups"}; a figure is nan when the
        dimension has no cell of that kind.
    """
    dist, weight = np.zeros(mass.shape[:-1]), np.zeros(mass.shape[:-1])
    for f in range(len(mass)):
        dist[f], weight[f] = cell_distances(mass[f], count[f], ordered, n_opt[f])
    dims = list(dict.fromkeys(d for d, _ in index.names))
    cell_dim = np.array([dims.index(d) for d, _ in index.names])
    out: dict[str, dict[str, dict[str, float]]] = {}
    for f in range(len(mass)):
        if weight[f].sum() == 0:
            continue
        per_dim = {}
        for k, dim in enumerate(dims):
            d, w = dist[f][cell_dim == k], weight[f][cell_dim == k]
            row = {}
            for key, sel in (("w1", ordered), ("js", ~ordered)):
                ww = np.where(np.isnan(d[:, sel]), 0.0, w[:, sel])
                row[key] = float((np.nan_to_num(d[:, sel]) * ww).sum() / ww.sum()) if ww.sum() > 0 else float("nan")
            row["answers"] = float(w.sum())
            row["groups"] = float((w.sum(axis=1) > 0).sum())
            per_dim[dim] = row
        out[FORM_NAMES[f]] = per_dim
    return out


def distribution_fit(
    preds: Predictions, groups: Mapping[str, np.ndarray] | None, n_rows: int, codebook
) -> dict[str, dict[str, dict[str, float]]]:
    """:func:`summarize_fit` of a set of predictions (``groups`` from ``ivr.metrics.catalog_groups``).

    The option axis is as wide as the codebook's widest question (no fixed cap on options).
    """
    index = GroupIndex.build(groups, n_rows)
    n_opt = option_counts(codebook)
    mass, count = cell_sums(preds, index, len(codebook.questions), int(n_opt.max()))
    return summarize_fit(mass, count, index, ordered_questions(codebook), n_opt)
