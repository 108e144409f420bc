"""``GroupDistribution``: distributional fit per demographic group as a torchmetrics ``Metric``.

The states are the two sums of :func:`ivr.metrics.distribution.cell_sums` (predicted probability mass
and observed answer counts per form, group cell, question and option), reduced by ``sum`` across
processes, so the synced figures are those of one process that saw every row (up to float64
summation order). Evaluation padding carries no labels (``ivr.data.datasets.PaddedEval``), so no row
is counted twice.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torchmetrics import Metric

from ivr.metrics.distribution import GroupIndex, option_counts, ordered_questions, summarize_fit
from ivr.metrics.predictions import FORM_NAMES


class GroupDistribution(Metric):
    """Predicted vs observed answer distributions per (form, group, question).

    Args:
        groups: dimension -> group label per catalog row (``ivr.metrics.catalog_groups``).
        n_rows: catalog rows (people).
        ordered: bool [Q], questions with ordered options (W1; the others get JS).
        n_opt: int [2, Q], options per question in each form.
        max_options: width of the probability rows (default: the widest question of ``n_opt``; there is
            no fixed cap on options).
    """

    full_state_update = False
    higher_is_better = False
    is_differentiable = False

    def __init__(
        self,
        groups: Mapping[str, np.ndarray] | None,
        n_rows: int,
        ordered: np.ndarray,
        n_opt: np.ndarray,
        max_options: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.index = GroupIndex.build(groups, n_rows)
        self.ordered = np.asarray(ordered, dtype=bool)
        self.n_opt = np.asarray(n_opt, dtype=np.int64)
        self.max_options = int(self.n_opt.max()) if max_options is None else int(max_options)
        max_options = self.max_options
        self._rows = torch.as_tensor(self.index.rows)
        shape = (len(FORM_NAMES), len(self.index.names), len(self.ordered), max_options)
        self.add_state("mass", default=torch.zeros(shape, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.zeros(shape, dtype=torch.float64), dist_reduce_fx="sum")

    @classmethod
    def for_catalog(cls, catalog, groups: Mapping[str, np.ndarray] | None, **kwargs) -> GroupDistribution:
        book = catalog.codebook
        return cls(groups, len(catalog), ordered_questions(book), option_counts(book), **kwargs)

    def update(
        self,
        person: torch.Tensor,
        form: torch.Tensor,
        question: torch.Tensor,
        target: torch.Tensor,
        probs: torch.Tensor,
    ) -> None:
        """Add scored probes (1-D tensors; probs [N, O], nan beyond a question's options)."""
        p = torch.as_tensor(probs).to(self.mass.device, torch.float64)
        p = torch.nan_to_num(p, nan=0.0)
        if p.shape[1] > self.max_options:  # columns past the widest question are padding (nan, now 0)
            p = p[:, : self.max_options]
        p = torch.nn.functional.pad(p, (0, self.max_options - p.shape[1]))
        target = torch.as_tensor(target).long().to(self.mass.device)
        ok = (target >= 0) & (p.sum(dim=1) > 0)
        p = p[ok] / p[ok].sum(dim=1, keepdim=True)
        f, q, t = (torch.as_tensor(x).long().to(self.mass.device)[ok] for x in (form, question, target))
        cells = self._rows.to(self.mass.device)[:, torch.as_tensor(person).long().to(self.mass.device)[ok]]
        for c in cells:  # one pass per dimension (and 'all')
            keep = c >= 0
            self.mass.index_put_((f[keep], c[keep], q[keep]), p[keep], accumulate=True)
            self.count.index_put_(
                (f[keep], c[keep], q[keep], t[keep]),
                torch.ones(int(keep.sum()), dtype=torch.float64, device=self.mass.device),
                accumulate=True,
            )

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """form -> dimension -> {"w1", "js", "answers", "groups"} (:func:`summarize_fit`; call after sync)."""
        return summarize_fit(self.mass.cpu().numpy(), self.count.cpu().numpy(), self.index, self.ordered, self.n_opt)

    def compute(self) -> dict[str, float]:
        """Scalars ``distfit_<form>/<dimension>_w1`` and ``..._js`` (nan-free)."""
        out = {}
        for form, dims in self.summary().items():
            for dim, row in dims.items():
                for key in ("w1", "js"):
                    if not np.isnan(row[key]):
                        out[f"distfit_{form}/{dim}_{key}"] = row[key]
        return out
