"""``ValueMetrics``: the study's metrics as a torchmetrics ``Metric``.

Every state is a list of tensors concatenated across processes (``dist_reduce_fx="cat"``), and
``compute`` first puts the gathered rows in canonical (person, setup, form, question) order and
drops repeated keys (distributed samplers pad by repeating examples). The result is therefore the
same whether the predictions were scored in one process or split over several ranks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from ivr.catalog.store import Catalog
from ivr.metrics.predictions import Predictions
from ivr.metrics.summary import catalog_groups, summarize

_FIELDS = ("person", "setup", "form", "question", "pred", "target")


class ValueMetrics(Metric):
    """Accuracy per (setup, form), the Table 3 averages, optional sigma_INEQUITY and calibration.

    Args:
        groups: dimension -> group label per catalog row, e.g. :func:`catalog_groups`; enables
            ``inequity/<form>``.
        min_group_size: groups with fewer people are left out of sigma (1 = off, the study).
        max_options: width of the stored probability rows; :meth:`for_catalog` sets the codebook's widest
            question (any number of options). None = the widest row seen so far, which suffices in one
            process; several ranks need the fixed width (their states are concatenated).
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False

    def __init__(
        self,
        groups: Mapping[str, np.ndarray] | None = None,
        min_group_size: int = 1,
        max_options: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.groups = dict(groups) if groups else None
        self.min_group_size = min_group_size
        self.max_options = max_options
        for name in _FIELDS:
            self.add_state(name, default=[], dist_reduce_fx="cat")
        self.add_state("probs", default=[], dist_reduce_fx="cat")

    @classmethod
    def for_catalog(cls, catalog: Catalog, dimensions: list[str] | None = None, **kwargs) -> ValueMetrics:
        """A metric with the catalog's per-group labels (default: every codebook dimension)."""
        widest = max(max(catalog.codebook.n_options(f)) for f in ("polar", "refined"))
        kwargs.setdefault("max_options", widest)
        return cls(groups=catalog_groups(catalog, dimensions), **kwargs)

    def _width(self) -> int:
        if self.max_options is not None:
            return self.max_options
        return max((int(p.shape[1]) for p in self.probs), default=1) if isinstance(self.probs, list) else 1

    def _uniform(self, width: int | None = None) -> None:
        """Pad every stored probability chunk to one width (nan), so they concatenate."""
        if isinstance(self.probs, list) and self.probs:
            width = width or self._width()
            self.probs = [
                p if p.shape[1] == width else torch.nn.functional.pad(p, (0, width - p.shape[1]), value=float("nan"))
                for p in self.probs
            ]

    def update(
        self,
        person: torch.Tensor,
        setup: torch.Tensor,
        form: torch.Tensor,
        question: torch.Tensor,
        pred: torch.Tensor,
        target: torch.Tensor,
        probs: torch.Tensor | None = None,
    ) -> None:
        """Add predictions (1-D tensors of equal length; probs [N, O] with nan padding or None)."""
        cols = [torch.as_tensor(t).reshape(-1).long() for t in (person, setup, form, question, pred, target)]
        n = len(cols[0])
        if any(len(c) != n for c in cols):
            raise ValueError(f"ValueMetrics.update: tensors differ in length {[len(c) for c in cols]}")
        for name, c in zip(_FIELDS, cols):
            getattr(self, name).append(c.to(self.device))
        p = None if probs is None else torch.as_tensor(probs).to(device=self.device, dtype=torch.float64)
        if p is not None and (p.ndim != 2 or len(p) != n):
            raise ValueError(f"ValueMetrics.update: probs must be [{n}, n_options], got {tuple(p.shape)}")
        if p is not None and self.max_options is not None and p.shape[1] > self.max_options:
            raise ValueError(
                f"ValueMetrics.update: probs have {p.shape[1]} options but the metric was built for "
                f"questions of at most {self.max_options} (max_options); build it with for_catalog"
            )
        width = self.max_options or (1 if p is None else max(1, p.shape[1]))
        padded = torch.full((n, width), float("nan"), dtype=torch.float64, device=self.device)
        if p is not None:
            padded[:, : p.shape[1]] = p
        self.probs.append(padded)

    def sync(self, *args: Any, **kwargs: Any) -> None:
        """Sync across processes; a rank that saw no rows still sends typed, shaped empty tensors.

        (torchmetrics would otherwise send float32 [0] tensors, which do not match the int64 and
        [N, O] float64 states of the other ranks.)
        """
        for name in _FIELDS:
            if isinstance(getattr(self, name), list) and not getattr(self, name):
                getattr(self, name).append(torch.zeros(0, dtype=torch.long, device=self.device))
        if isinstance(self.probs, list) and not self.probs:
            self.probs.append(torch.zeros((0, self._width()), dtype=torch.float64, device=self.device))
        width = self._width()
        dist = torch.distributed
        if (
            self.max_options is None
            and kwargs.get("should_sync", True)
            and dist.is_available()
            and dist.is_initialized()
            and not self._is_synced
        ):
            # without a fixed width the ranks agree on the widest question any of them saw
            agreed = torch.tensor([width], dtype=torch.long, device=self.device)
            dist.all_reduce(agreed, op=dist.ReduceOp.MAX, group=kwargs.get("process_group"))
            width = int(agreed.item())
        self._uniform(width)
        super().sync(*args, **kwargs)

    def predictions(self) -> Predictions:
        """The stored rows as :class:`Predictions` (this process's rows unless called inside ``compute``)."""

        def cat(name: str) -> np.ndarray:
            state = getattr(self, name)
            if isinstance(state, list) and not state:
                return np.zeros((0, self._width()) if name == "probs" else 0)
            if name == "probs":
                self._uniform()
                state = self.probs
            return dim_zero_cat(state).cpu().numpy()

        probs = cat("probs")
        has_probs = len(probs) > 0 and not np.isnan(probs).all()
        return Predictions(*(cat(n) for n in _FIELDS), probs=probs if has_probs else None)

    def compute(self) -> dict[str, float]:
        """Scalars of :func:`summarize` over all (synced) rows."""
        return summarize(self.predictions(), self.groups, self.min_group_size)
