"""Multi-probe packing: one shared demonstration prefix, then one branch per probe.

Packed layout of a sequence with prefix P and branches B1..BK::

    tokens     P P P P | B1 B1 B1 | B2 B2 | ...
    positions  0 1 2 3 | 4  5  6  | 4  5  | ...   (each branch restarts right after the prefix)
    segment    0 0 0 0 | 1  1  1  | 2  2  | ...   (-1 = padding)

A token may attend to an earlier token of the prefix or of its own branch (block causal mask),
so each probe's scores equal those of the one-probe sequence prefix + branch. For full-option
log-likelihood each probe's branch is followed by one sub-branch per option (its whole answer), which
sees the prefix, the probe's branch and itself, so a probe's options share one pass. The unpacked
layout (one probe per sequence) is the study's; it uses a plain causal 2-D padding mask.

Transformers' Llama *eager* attention adds the mask to the scores, so a boolean mask must be
turned into an additive float mask there (:func:`model_attention_mask`); SDPA accepts either.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ivr.data.tokenization import Built
from ivr.protocol.examples import Example


def sequences(built: Built, ex: Example, packed: bool, option_text: bool = False) -> list[dict[str, Any]]:
    """Lay an assembled example out as one packed sequence or one sequence per probe.

    Args:
        built: cached ids of the example (with ``option_text``: built with ``continuations=True``).
        ex: the example record (for meta fields).
        packed: all probes after one prefix (True) or one sequence per probe (False).
        option_text: after each probe's branch, one sub-branch per option holding that option's whole
            answer (``built.option_conts``), with ``option_spans`` marking it (full-option log-likelihood).
            A sub-branch sees the prefix, its probe's branch and itself (``sub_ids``: 0 on shared tokens,
            o + 1 on option o's answer); its positions continue its probe's branch, as in the plain
            sequence prefix + probe + that option. Every such sequence needs the block mask.

    Returns:
        Sequence dicts of numpy arrays: ``input_ids``, ``position_ids``, ``segment_ids`` [T];
        ``answer_positions``, ``labels``, ``person``, ``setup``, ``form``, ``question`` [K];
        ``option_token_ids``, ``option_index`` (lists of K int arrays); ``n_demos``,
        ``demos_requested``, ``demos_dropped`` (ints); with ``option_text`` also ``sub_ids`` [T], ``prefix_length``,
        ``option_spans`` (list of K int arrays [O, 2], (start, end) of each option's answer tokens, end
        exclusive) and ``option_chars`` (list of K int arrays [O], characters of each answer).

    Raises:
        ValueError: ``option_text`` with a ``built`` that has no continuations.
    """
    if option_text and built.option_conts is None:
        raise ValueError("option_text layout needs TokenCache.build(..., continuations=True)")
    groups = [list(range(len(built.branches)))] if packed else [[k] for k in range(len(built.branches))]
    out = []
    n_prefix = len(built.prefix)
    for group in groups:
        ids, pos, seg, answer = [built.prefix], [np.arange(n_prefix)], [np.zeros(n_prefix, np.int64)], []
        sub = [np.zeros(n_prefix, np.int64)]
        spans: list[np.ndarray] = []
        start = n_prefix
        for n_seg, k in enumerate(group, start=1):
            branch = built.branches[k]
            n = len(branch)
            ids.append(branch)
            pos.append(np.arange(n_prefix, n_prefix + n))
            seg.append(np.full(n, n_seg, np.int64))
            sub.append(np.zeros(n, np.int64))
            start += n
            answer.append(start - 1)
            if not option_text:
                continue
            conts = built.option_conts[k]
            span = np.zeros((len(conts), 2), np.int64)
            for o, cont in enumerate(conts):
                m = len(cont)
                ids.append(cont)
                pos.append(np.arange(n_prefix + n, n_prefix + n + m))
                seg.append(np.full(m, n_seg, np.int64))
                sub.append(np.full(m, o + 1, np.int64))
                span[o] = (start, start + m)
                start += m
            spans.append(span)
        idx = np.asarray(group, dtype=np.int64)
        out.append(
            {
                "input_ids": np.concatenate([np.asarray(x, dtype=np.int64) for x in ids]),
                "position_ids": np.concatenate(pos).astype(np.int64),
                "segment_ids": np.concatenate(seg),
                "answer_positions": np.asarray(answer, dtype=np.int64),
                "labels": np.asarray([built.labels[k] for k in group], dtype=np.int64),
                "option_token_ids": [np.asarray(built.option_ids[k], dtype=np.int64) for k in group],
                "option_index": [np.asarray(built.option_index[k], dtype=np.int64) for k in group],
                "person": np.full(len(group), ex.row, np.int64),
                "setup": np.full(len(group), ex.setup, np.int64),
                "form": ex.probe_forms[idx].astype(np.int64),
                "question": ex.probe_questions[idx].astype(np.int64),
                "n_demos": built.n_demos,
                "demos_requested": ex.demos_requested,
                "demos_dropped": built.n_dropped,
            }
        )
        if option_text:
            out[-1]["sub_ids"] = np.concatenate(sub)
            out[-1]["prefix_length"] = n_prefix
            out[-1]["option_spans"] = spans
            out[-1]["option_chars"] = [np.asarray(built.option_chars[k], dtype=np.int64) for k in group]
    return out


def block_mask(segment_ids: torch.Tensor, sub_ids: torch.Tensor | None = None) -> torch.Tensor:
    """Bool[B,1,T,T] block-causal mask from segment ids Long[B,T] (0 prefix, k branch, -1 pad).

    ``sub_ids`` Long[B,T] splits a branch further (0 = the probe's shared tokens, o + 1 = option o's
    answer): an option's tokens see the prefix, their probe's shared tokens and their own option only.
    True = may attend. Padding rows attend only to themselves (no fully masked row, so no NaN).
    """
    t = segment_ids.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool, device=segment_ids.device).tril()
    q, k = segment_ids[:, :, None], segment_ids[:, None, :]
    same = k == q
    if sub_ids is not None:
        sq, sk = sub_ids[:, :, None], sub_ids[:, None, :]
        same = same & ((sk == 0) | (sk == sq))
    allowed = causal & (k >= 0) & ((k == 0) | same) & (q >= 0)
    eye = torch.eye(t, dtype=torch.bool, device=segment_ids.device)
    allowed = allowed | (eye & (q < 0))
    return allowed[:, None]


def model_attention_mask(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The batch's attention mask in a form any Llama attention implementation reads correctly.

    A 4-D bool mask (True = attend) becomes an additive float mask (0 / most negative value),
    which eager attention needs (it adds the mask to the scores) and SDPA accepts; a 2-D padding
    mask is returned unchanged (the model builds the causal mask itself).
    """
    if mask.dim() == 4 and mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, torch.finfo(dtype).min)
    return mask
