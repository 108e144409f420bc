"""Turn a scored batch into per-probe rows in codebook option order, the input of ``ValueMetrics``."""

from __future__ import annotations

from typing import Any

import torch

from ivr.model.heads import ChoiceOutput


def flatten_probes(batch: dict[str, Any], out: ChoiceOutput) -> dict[str, torch.Tensor]:
    """One row per real probe of the batch, with options in codebook order.

    When the data module shuffles the presented options it supplies ``option_index`` [B, K, O]
    (codebook index at each presented position); predictions, labels and probabilities are mapped
    back through it so metrics never see the presentation order.

    Returns:
        dict of 1-D long tensors ``person, setup, form, question, pred, target`` and ``probs``
        float [N, O] with O the batch's widest question (nan beyond a question's options).
    """
    real = batch["answer_positions"] >= 0
    labels = batch.get("labels")
    if labels is None:
        labels = torch.full_like(batch["answer_positions"], -1)
    opt_valid = batch["option_token_ids"] >= 0
    n_opt = opt_valid.sum(-1)
    index = batch.get("option_index")
    if index is None:
        o = out.probs.shape[-1]
        index = torch.arange(o, device=out.probs.device).expand_as(out.probs)
    index = index.clamp(min=0)

    def to_codebook(presented: torch.Tensor) -> torch.Tensor:
        mapped = torch.gather(index, -1, presented.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return torch.where(presented >= 0, mapped, presented)

    pred = to_codebook(out.pred)
    target = to_codebook(labels)
    # scatter_add: padded positions (index clamped to 0) carry probability 0 and must not overwrite column 0
    probs_cb = torch.zeros_like(out.probs).scatter_add(-1, index, out.probs.detach().float())
    cols = torch.arange(probs_cb.shape[-1], device=probs_cb.device)
    padded = probs_cb.masked_fill(cols >= n_opt.unsqueeze(-1), float("nan"))
    meta = batch["meta"]
    return {
        "person": meta["person"][real],
        "setup": meta["setup"][real],
        "form": meta["form"][real],
        "question": meta["question"][real],
        "pred": pred[real],
        "target": target[real],
        "probs": padded[real],
    }
