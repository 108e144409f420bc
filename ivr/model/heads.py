"""Choice scoring: one score per option of each probe, read from a causal LM's logits.

Two scorers share one output layout, ``scores`` float [B, K, O] with ``-inf`` on padded options:

* ``choice`` (default): the LM's next-token logits at ``answer_positions[b, k]``, read at the option
  label tokens ``option_token_ids[b, k, o]``. A base model is scored zero-shot by the same code.
* ``loglik_sum`` / ``loglik_mean`` / ``loglik_char``: the log-likelihood of each option's whole answer
  (``option_spans``), summed or divided by its tokens or characters (:mod:`ivr.model.loglik`).

The loss is cross-entropy over options, ignoring probes labelled -1; the prediction is the argmax and
the softmax probabilities are kept for calibration metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ivr.model.loglik import LOGLIK_MODES

SCORE_MODES: tuple[str, ...] = ("choice", *LOGLIK_MODES)


@dataclass
class ChoiceOutput:
    """Scores and derived quantities of one batch.

    Attributes:
        scores: float [B, K, O], ``-inf`` on padded options.
        loss: mean cross-entropy over labelled probes (0 when none is labelled).
        loss_sum: summed cross-entropy over labelled probes (for normalising by a global count).
        pred: long [B, K] argmax option, -1 on padded probes.
        probs: float [B, K, O] softmax over options, 0 on padded options and probes.
        n_labelled: number of probes that entered the loss.
    """

    scores: torch.Tensor
    loss: torch.Tensor
    loss_sum: torch.Tensor
    pred: torch.Tensor
    probs: torch.Tensor
    n_labelled: int


def answer_slots(answer_positions: torch.Tensor) -> torch.Tensor:
    """Sorted unique sequence positions that any probe of the batch is scored at.

    Passing these as ``logits_to_keep`` makes the LM head run on a few positions instead of all T,
    which matters with a 128k vocabulary at 4096 tokens.
    """
    valid = answer_positions[answer_positions >= 0]
    if valid.numel() == 0:
        return torch.zeros(1, dtype=torch.long, device=answer_positions.device)
    return torch.unique(valid)


def _columns(answer_positions: torch.Tensor, kept_positions: torch.Tensor | None) -> torch.Tensor:
    """Each probe's column: its answer position, or its index among the kept positions."""
    pos = answer_positions.clamp(min=0)
    if kept_positions is None:
        return pos
    return torch.searchsorted(kept_positions, pos).clamp(max=kept_positions.numel() - 1)


def choice_scores(
    logits: torch.Tensor,
    answer_positions: torch.Tensor,
    option_token_ids: torch.Tensor,
    kept_positions: torch.Tensor | None = None,
) -> torch.Tensor:
    """Option scores from next-token logits at the answer slots.

    Args:
        logits: float [B, T', V]: all positions (T' = T) or only ``kept_positions`` (T' = U).
        answer_positions: long [B, K], -1 for padded probes.
        option_token_ids: long [B, K, O], -1 for padded options.
        kept_positions: long [U] sorted positions ``logits`` was computed at, or None for all.

    Returns:
        float [B, K, O] scores (fp32), ``-inf`` where the option or the probe is padding.
    """
    pos = _columns(answer_positions, kept_positions)
    rows = torch.arange(pos.shape[0], device=pos.device).unsqueeze(1)
    at = logits[rows, pos]  # [B, K, V]; advanced indexing avoids a [B, K, V] index tensor
    opt = option_token_ids.clamp(min=0)
    scores = torch.gather(at, 2, opt).float()
    pad = (option_token_ids < 0) | (answer_positions < 0).unsqueeze(-1)
    return scores.masked_fill(pad, float("-inf"))


def option_dot_scores(
    hidden: torch.Tensor,
    answer_positions: torch.Tensor,
    option_token_ids: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    kept_positions: torch.Tensor | None = None,
    shared_rows: bool = False,
) -> torch.Tensor:
    """The same scores as :func:`choice_scores` computed from the final hidden states.

    ``logits[b, p, v] = hidden[b, p] . weight[v] (+ bias[v])``, so only the option rows of the output
    embedding are needed: no [B, T, V] (or [B, K, V]) tensor is ever built.

    Args:
        hidden: float [B, T', H] final (normalised) hidden states: all positions (T' = T) or only
            ``kept_positions`` (T' = U).
        answer_positions: long [B, K], -1 for padded probes.
        option_token_ids: long [B, K, O], -1 for padded options.
        weight: [V, H] output embedding.
        bias: optional [V] output bias.
        kept_positions: long [U] sorted positions ``hidden`` holds, or None for all.
        shared_rows: equal rows of ``hidden`` were expanded from one row by the model (the statement-set
            reasoner's probes of one sequence): they are scored once, and a group's whole gradient reaches
            the model through its first row (the sum over the group, which is what the expansion needs).

    Returns:
        float [B, K, O] (fp32), ``-inf`` where the option or the probe is padding.
    """
    pos = _columns(answer_positions, kept_positions)
    opt = option_token_ids.clamp(min=0)
    rows = torch.arange(pos.shape[0], device=pos.device).unsqueeze(1)
    h = hidden[rows, pos]  # [B, K, H]
    scores = _shared_row_scores(h, opt, weight, bias) if shared_rows else None
    if scores is None:
        w = weight[opt].to(h.dtype)  # [B, K, O, H]
        scores = torch.einsum("bkh,bkoh->bko", h, w)
        if bias is not None:
            scores = scores + bias[opt].to(scores.dtype)
    pad = (option_token_ids < 0) | (answer_positions < 0).unsqueeze(-1)
    return scores.float().masked_fill(pad, float("-inf"))


def distinct_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``first`` [U] (the first row of each distinct row) and ``inverse`` [N] (each row's distinct row) of a 2-D
    tensor, exact: rows are grouped by a hash and every group is checked against its first row (identical rows
    then share one computation, ``f(x[first])[inverse]``, with the same values and gradients)."""
    n = x.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=x.device), torch.zeros(0, dtype=torch.long, device=x.device)

    def first_of(inverse: torch.Tensor) -> torch.Tensor:
        first = torch.full((int(inverse.max()) + 1,), n, dtype=torch.long, device=x.device)
        return first.scatter_reduce(0, inverse, torch.arange(n, device=x.device), "amin")

    key = x.detach().double()
    weights = torch.sin(torch.arange(1, x.shape[1] + 1, dtype=torch.float64, device=x.device) * 12.9898) + 1.5
    _, inverse = torch.unique((key * weights).sum(-1), return_inverse=True)
    first = first_of(inverse)
    if not bool((key == key[first][inverse]).all()):  # a hash collision: group exactly (slower)
        _, inverse = torch.unique(key, dim=0, return_inverse=True)
        first = first_of(inverse)
    return first, inverse


def _shared_row_scores(
    h: torch.Tensor, opt: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor | None:
    """Scores [B, K, O] from the distinct rows of ``h`` projected onto the whole (small) vocabulary, or None
    when gathering each probe's option rows is cheaper (the same scores either way).

    Probes whose hidden states are identical (the statement-set reasoner's probes of one packed sequence
    share their pool) need one projection, not one copy of the option rows each; with a small vocabulary
    ``distinct rows x V`` is far below ``probes x options x H``. A large vocabulary (Llama's 128k) skips this.
    """
    flat = h.reshape(-1, h.shape[-1])
    n_rows, vocab = flat.shape[0], weight.shape[0]
    if vocab >= n_rows * opt.shape[-1]:
        return None
    first, inverse = distinct_rows(flat)
    # a dense product runs far faster per element than a gather with its scatter-add backward (~30x here)
    if first.numel() * vocab >= 16 * n_rows * opt.shape[-1]:
        return None
    logits = flat[first] @ weight.to(flat.dtype).T  # [N, V]
    if bias is not None:
        logits = logits + bias.to(logits.dtype)
    return logits[inverse.view(*h.shape[:2], 1), opt]


def choice_output(scores: torch.Tensor, labels: torch.Tensor | None) -> ChoiceOutput:
    """Cross-entropy over options, argmax prediction and probabilities.

    Args:
        scores: float [B, K, O], ``-inf`` on padded options.
        labels: long [B, K] correct option, -1 = ignore; None at inference.

    Returns:
        A :class:`ChoiceOutput`.

    Raises:
        ValueError: a label points at a padded option.
    """
    real = torch.isfinite(scores).any(-1)  # [B, K] probes with at least one option
    safe = torch.where(real.unsqueeze(-1), scores, torch.zeros_like(scores))
    probs = torch.softmax(safe, -1).masked_fill(~real.unsqueeze(-1), 0.0)
    pred = torch.where(real, safe.argmax(-1), torch.full_like(real, -1, dtype=torch.long))
    if labels is None:
        zero = scores.new_zeros(())
        return ChoiceOutput(scores, zero, zero, pred, probs, 0)
    use = (labels >= 0) & real
    n = int(use.sum())
    if n == 0:
        # keep the graph connected so every rank runs the same backward under FSDP
        finite = torch.where(torch.isfinite(scores), scores, torch.zeros_like(scores))
        zero = finite.sum() * 0.0
        return ChoiceOutput(scores, zero, zero, pred, probs, 0)
    rows, tgt = scores[use], labels[use]
    if not bool(torch.isfinite(rows.gather(1, tgt.unsqueeze(1))).all()):
        raise ValueError("a label points at a padded option (option_token_ids == -1); check the collate")
    total = F.cross_entropy(rows, tgt, reduction="sum")
    return ChoiceOutput(scores, total / n, total, pred, probs, n)
