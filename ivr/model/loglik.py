"""Full-option log-likelihood: each option's whole answer scored as the continuation of its probe.

With ``data.score_layout: option_text`` (:func:`ivr.data.packing.sequences`) every probe's branch is
followed by one sub-branch per option holding that option's whole answer (for ``choice.jinja``:
``" 3: I agree that ..."``), so the prefix and the probe are run once for all of a probe's options.
Option ``o`` of probe ``k`` occupies ``option_spans[b, k, o] = [start, end)``; its first token is
predicted from ``answer_positions[b, k]`` (the probe's last token, shared by every option) and each
later token from the token before it.

Scores (``[B, K, O]``, ``-inf`` on padding), in lm-evaluation-harness terms:

* ``loglik_sum``: the summed log-probability of the answer tokens (``acc``);
* ``loglik_mean``: divided by the answer's number of tokens;
* ``loglik_char``: divided by the answer's number of characters, ``option_chars`` (``acc_norm``).

Only the continuation positions reach the vocabulary projection: the rows are gathered from the final
hidden states and projected in chunks, so no [B, T, V] tensor is built (V = 128,256 for Llama-3).
Training runs the whole tree as one sequence under the block mask; evaluation
(:func:`cached_prefix_loglik`) runs each prefix once into a KV cache and the branches on top of it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ivr.errors import ConfigError

LOGLIK_MODES: tuple[str, ...] = ("loglik_sum", "loglik_mean", "loglik_char")
# rows of [rows, V] logits projected at once: 2**26 fp32 values = 256 MiB
CHUNK_VALUES = 1 << 26


def check_score_layout(
    score: str, score_layout: str, flags: tuple[str, str] = ("model.score", "data.score_layout")
) -> None:
    """The model's score mode and the data's layout must agree.

    Raises:
        ConfigError: naming both flags and the value that fixes it.
    """
    score_flag, layout_flag = flags
    if score in LOGLIK_MODES and score_layout != "option_text":
        raise ConfigError(
            f"{score_flag}={score} scores every option's whole answer, which {layout_flag}={score_layout} "
            f"does not build; set {layout_flag}: option_text (or {score_flag}: choice)"
        )
    if score not in LOGLIK_MODES and score_layout == "option_text":
        raise ConfigError(
            f"{layout_flag}=option_text builds option answers for {score_flag} in {LOGLIK_MODES}, but "
            f"{score_flag}={score}; set {score_flag}: loglik_sum (or {layout_flag}: label)"
        )


def continuation_index(answer_positions: torch.Tensor, option_spans: torch.Tensor) -> dict[str, torch.Tensor]:
    """Where every continuation token of the batch is and which position predicts it.

    Args:
        answer_positions: long [B, K], -1 on padded probes.
        option_spans: long [B, K, O, 2] ``[start, end)`` of each option's answer, -1 on padding.

    Returns:
        ``row``, ``pred`` (predicting position), ``pos`` (the token's position), ``option`` (flat index
        into B * K * O), all long [N] over the N real continuation tokens; ``length`` long [B, K, O].

    Raises:
        ValueError: a real option whose span is empty or does not follow its probe's answer position.
    """
    b, k, o, _ = option_spans.shape
    start, end = option_spans[..., 0], option_spans[..., 1]
    answer = answer_positions[..., None].expand(b, k, o)
    real = (start >= 0) & (end >= 0) & (answer >= 0)
    if bool((real & ((end <= start) | (start <= answer))).any()):
        raise ValueError(
            "option_spans must satisfy answer_position < start < end (end exclusive) for every real "
            "option; check the option_text layout"
        )
    length = torch.where(real, end - start, torch.zeros_like(start))
    flat = length.reshape(-1)
    option = torch.repeat_interleave(torch.arange(flat.numel(), device=flat.device), flat)
    offset = torch.arange(option.numel(), device=flat.device) - (torch.cumsum(flat, 0) - flat)[option]
    pos = start.reshape(-1)[option] + offset
    pred = torch.where(offset == 0, answer.reshape(-1)[option], pos - 1)
    rows = torch.arange(b, device=flat.device)[:, None, None].expand(b, k, o).reshape(-1)[option]
    return {"row": rows, "pred": pred, "pos": pos, "option": option, "length": length}


def projected_logprobs(
    hidden: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """log-softmax(hidden @ weight.T + bias)[target] per row, fp32 [N], in chunks of rows.

    Args:
        hidden: [N, H] final hidden states of the predicting positions.
        targets: long [N] the tokens they predict.
        weight: [V, H] output embedding; bias: optional [V].
    """
    chunk = max(1, CHUNK_VALUES // max(1, weight.shape[0]))
    out = []
    for i in range(0, hidden.shape[0], chunk):
        logits = F.linear(hidden[i : i + chunk].to(weight.dtype), weight, bias)
        out.append(-F.cross_entropy(logits.float(), targets[i : i + chunk], reduction="none"))
    return torch.cat(out) if out else hidden.new_zeros(0, dtype=torch.float32)


def option_scores(
    token_logp: torch.Tensor, index: dict[str, torch.Tensor], option_chars: torch.Tensor | None, mode: str
) -> torch.Tensor:
    """Per-option scores [B, K, O] from the log-probabilities [N] of the tokens :func:`continuation_index` lists.

    Raises:
        ValueError: an unknown mode, or ``loglik_char`` without ``option_chars``.
    """
    if mode not in LOGLIK_MODES:
        raise ValueError(f"score mode {mode!r}: use one of {LOGLIK_MODES}")
    length = index["length"]
    total = torch.zeros(length.numel(), dtype=torch.float32, device=length.device)
    total = total.index_add(0, index["option"], token_logp.float()).reshape(length.shape)
    if mode == "loglik_mean":
        total = total / length.clamp(min=1).to(total.dtype)
    elif mode == "loglik_char":
        if option_chars is None:
            raise ValueError("model.score=loglik_char needs batch['option_chars']; use data.score_layout: option_text")
        total = total / option_chars.clamp(min=1).to(total.dtype)
    return total.masked_fill(length == 0, float("-inf"))


def loglik_from_hidden(
    hidden: torch.Tensor, batch: dict, weight: torch.Tensor, bias: torch.Tensor | None, mode: str
) -> torch.Tensor:
    """Full-option scores [B, K, O] from the final hidden states [B, T, H] and the output embedding."""
    index = continuation_index(batch["answer_positions"], batch["option_spans"])
    targets = batch["input_ids"][index["row"], index["pos"]]
    logp = projected_logprobs(hidden[index["row"], index["pred"]], targets, weight, bias)
    return option_scores(logp, index, batch.get("option_chars"), mode)


def loglik_from_logits(logits: torch.Tensor, kept_positions: torch.Tensor, batch: dict, mode: str) -> torch.Tensor:
    """The same scores from logits [B, U, V] computed only at ``kept_positions`` [U] (sorted).

    For heads that are not a plain projection (soft-capping, scaling): keep
    :func:`predicting_positions` as the model's ``logits_to_keep``.
    """
    index = continuation_index(batch["answer_positions"], batch["option_spans"])
    col = torch.searchsorted(kept_positions, index["pred"])
    rows = logits[index["row"], col].float()
    targets = batch["input_ids"][index["row"], index["pos"]]
    logp = -F.cross_entropy(rows, targets, reduction="none") if rows.numel() else rows.new_zeros(0)
    return option_scores(logp, index, batch.get("option_chars"), mode)


def predicting_positions(batch: dict) -> torch.Tensor:
    """Sorted unique positions whose next-token logits any option token of the batch needs."""
    pred = continuation_index(batch["answer_positions"], batch["option_spans"])["pred"]
    return torch.unique(pred) if pred.numel() else torch.zeros(1, dtype=torch.long, device=pred.device)


def _shift(x: torch.Tensor, by: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, x - by, x)


def branch_window(batch: dict, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """The tokens after each sequence's prefix, left-aligned in a [B, Q] window, with their mask rows.

    Row ``b``'s window holds its tokens ``[prefix_lengths[b], lengths[b])``; the mask ``[B, 1, Q, P + Q]``
    (P = the longest prefix) reads the cache's first P entries (of which row ``b`` may see its own
    ``prefix_lengths[b]``) and then the window itself; padded window rows see only themselves.
    """
    ids, pos = batch["input_ids"], batch["position_ids"]
    p, t = batch["prefix_lengths"].to(ids.device), batch["lengths"].to(ids.device)
    n_b, n_p = ids.shape[0], int(p.max())
    n_q = int((t - p).max())
    j = torch.arange(n_q, device=ids.device)
    valid = j[None, :] < (t - p)[:, None]  # [B, Q]
    src = torch.where(valid, p[:, None] + j[None, :], (t - 1)[:, None])  # window slot -> sequence position
    rows = torch.arange(n_b, device=ids.device)[:, None]
    mask_rows = attention_mask[:, 0][rows, src]  # [B, Q, T]
    prefix_cols = mask_rows[:, :, :n_p] & (torch.arange(n_p, device=ids.device)[None, None, :] < p[:, None, None])
    window_cols = mask_rows.gather(2, src[:, None, :].expand(n_b, n_q, n_q)) & valid[:, None, :]
    mask = torch.cat([prefix_cols, window_cols], -1)
    alone = torch.cat(
        [
            torch.zeros(n_q, n_p, dtype=torch.bool, device=ids.device),
            torch.eye(n_q, dtype=torch.bool, device=ids.device),
        ],
        -1,
    )
    mask = torch.where(valid[:, :, None], mask, alone[None])
    return {
        "input_ids": ids[rows, src],
        "position_ids": pos[rows, src],
        "mask": mask[:, None],
        "n_prefix": n_p,
        "shift": p,
    }


def cached_prefix_loglik(
    model: torch.nn.Module,
    head_scores: Callable[..., torch.Tensor],
    batch: dict,
    attention_mask: torch.Tensor,
    to_additive: Callable[[torch.Tensor], torch.Tensor],
    mode: str,
) -> torch.Tensor:
    """The same scores with the prefixes run once into a KV cache and the branches run on top of it (no grad).

    The single tree pass attends over all T x T token pairs; here the batch's prefixes (sequence ``b``'s
    first ``prefix_lengths[b]`` tokens) run causally into a cache, and the probe branches and option
    sub-branches (:func:`branch_window`) run after it with their rows of the block mask, so attention
    costs about prefix^2 / 2 + branches x T instead of T^2. Two forwards per batch, whatever its size.

    Args:
        model: the causal LM; head_scores: ``(kwargs, score(hidden, weight, bias)) -> scores`` running the
            model with the vocabulary projection replaced (``IndieValueReasoner._head_scores``).
        batch: an option_text batch (``prefix_lengths``, ``lengths``); attention_mask: its bool block mask.
        to_additive: bool mask rows -> the additive mask the model's attention reads.

    Returns:
        float [B, K, O] (fp32), ``-inf`` on padding.
    """
    win = branch_window(batch, attention_mask)
    n_p = win["n_prefix"]
    # a row's tokens past its own prefix also enter the cache here; the window's mask never reads them
    cache = model(
        input_ids=batch["input_ids"][:, :n_p],
        position_ids=batch["position_ids"][:, :n_p],
        use_cache=True,
        logits_to_keep=1,
    ).past_key_values
    p = win["shift"]
    sub = {
        "input_ids": win["input_ids"],
        "answer_positions": _shift(batch["answer_positions"], p[:, None]),
        "option_spans": _shift(batch["option_spans"], p[:, None, None, None]),
        "option_chars": batch.get("option_chars"),
    }
    kwargs = {
        "input_ids": win["input_ids"],
        "position_ids": win["position_ids"],
        "past_key_values": cache,
        "attention_mask": to_additive(win["mask"]),
        "use_cache": True,
    }
    return head_scores(kwargs, lambda h, w, bias: loglik_from_hidden(h, sub, w, bias, mode))
