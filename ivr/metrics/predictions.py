"""Predictions: one row per (person, setup, form, probe question), the input of every metric."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ivr.errors import InputError

FORM_NAMES = ("polar", "refined")  # form code 0, 1
NO_ANSWER = -1  # pred: no answer / parse failure (scored wrong); target: unanswered (not scored)

_INT_FIELDS = ("person", "setup", "form", "question", "pred", "target")


@dataclass
class Predictions:
    """Equal-length arrays describing predicted and true option indices.

    Attributes:
        person: catalog row of the person (int64).
        setup: probe setup (0, 1, 2, ...).
        form: 0 polar, 1 refined.
        question: codebook question index.
        pred: predicted option index; -1 means no answer or a parse failure and counts as wrong.
        target: the person's option index; -1 means the person did not answer (left out of scoring).
        probs: optional float [N, O] probability per option, nan beyond a question's options.
    """

    person: np.ndarray
    setup: np.ndarray
    form: np.ndarray
    question: np.ndarray
    pred: np.ndarray
    target: np.ndarray
    probs: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in _INT_FIELDS:
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.int64).reshape(-1))
        n = len(self.person)
        bad = [f"{name}={len(getattr(self, name))}" for name in _INT_FIELDS if len(getattr(self, name)) != n]
        if bad:
            raise InputError(f"Predictions arrays differ in length: person={n}, {', '.join(bad)}")
        if n and not np.isin(self.form, (0, 1)).all():
            raise InputError(f"Predictions.form must be 0 (polar) or 1 (refined); got {np.unique(self.form)[:5]}")
        if n and ((self.pred < NO_ANSWER).any() or (self.target < NO_ANSWER).any()):
            raise InputError("Predictions.pred/target must be option indices >= 0, or -1")
        if self.probs is not None:
            self.probs = np.asarray(self.probs, dtype=np.float64)
            if self.probs.ndim != 2 or len(self.probs) != n:
                raise InputError(f"Predictions.probs must have shape [{n}, n_options]; got {self.probs.shape}")

    def __len__(self) -> int:
        return len(self.person)

    @classmethod
    def from_matrix(
        cls,
        catalog: Any,
        rows: np.ndarray,
        setup: int,
        form: str,
        probes: np.ndarray,
        pred: np.ndarray,
        probs: np.ndarray | None = None,
    ) -> Predictions:
        """Rows for a ``[len(rows), len(probes)]`` matrix of predicted option indices (person-major).

        Args:
            catalog: the :class:`ivr.catalog.store.Catalog` the targets come from.
            rows: evaluated catalog rows.
            setup: the probe setup number.
            form: "polar" or "refined".
            probes: codebook indices of the probed questions.
            pred: predicted option indices, shape [len(rows), len(probes)] or broadcastable to it.
            probs: optional [len(rows), len(probes), O] option probabilities (nan beyond a question's options).
        """
        rows = np.asarray(rows, dtype=np.int64)
        probes = np.asarray(probes, dtype=np.int64)
        e, k = len(rows), len(probes)
        pred = np.broadcast_to(np.asarray(pred), (e, k))
        flat_probs = None if probs is None else np.asarray(probs, dtype=np.float64).reshape(e * k, -1)
        return cls(
            person=np.repeat(rows, k),
            setup=np.full(e * k, setup),
            form=np.full(e * k, FORM_NAMES.index(form)),
            question=np.tile(probes, e),
            pred=pred.reshape(-1),
            target=catalog.answers(form)[np.ix_(rows, probes)].reshape(-1),
            probs=flat_probs,
        )

    @classmethod
    def concat(cls, parts: list[Predictions]) -> Predictions:
        """Join predictions; probs are kept only when every part has them (padded with nan)."""
        if not parts:
            return cls(*(np.zeros(0, np.int64) for _ in _INT_FIELDS))
        cols = {name: np.concatenate([getattr(p, name) for p in parts]) for name in _INT_FIELDS}
        probs = None
        if all(p.probs is not None for p in parts):
            width = max(p.probs.shape[1] for p in parts)
            probs = np.concatenate([_pad(p.probs, width) for p in parts])
        return cls(**cols, probs=probs)

    def select(self, mask: np.ndarray) -> Predictions:
        """The rows where ``mask`` is true (or the given indices)."""
        kw = {name: getattr(self, name)[mask] for name in _INT_FIELDS}
        return Predictions(**kw, probs=None if self.probs is None else self.probs[mask])

    def canonical(self) -> Predictions:
        """Rows sorted by (person, setup, form, question) with exact repeats of a key dropped.

        Distributed samplers pad the last batch by repeating examples; sorting also makes every
        later float sum independent of how the rows were gathered.
        """
        order = np.lexsort((self.question, self.form, self.setup, self.person))
        out = self.select(order)
        if len(out) > 1:
            key = np.stack([out.person, out.setup, out.form, out.question], axis=1)
            keep = np.ones(len(out), dtype=bool)
            keep[1:] = (key[1:] != key[:-1]).any(axis=1)
            out = out.select(keep)
        return out

    def save(self, path: str | Path) -> Path:
        """Write a ``.npz`` file (atomically)."""
        path = Path(path)
        tmp = path.with_name(f".{path.stem}.tmp.npz")
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Predictions:
        with np.load(Path(path), allow_pickle=False) as data:
            return cls(**{k: data[k] for k in data.files})


def pad_probs(probs: np.ndarray, width: int) -> np.ndarray:
    """``probs`` [N, O] widened to ``width`` columns with nan (options a question does not have)."""
    return _pad(probs, width)


def _pad(probs: np.ndarray, width: int) -> np.ndarray:
    if probs.shape[1] == width:
        return probs
    out = np.full((len(probs), width), np.nan)
    out[:, : probs.shape[1]] = probs
    return out
