"""Multi-probe packing: one shared demonstration prefix, then one branch per probe.

Packed layout of a sequence with prefix P and branches B1..BK::

    tokens     P P P P | B1 B1 B1 | B2 B2 | ...
    positions  0 1 2 3 | 4  5  6  | 4  5  | ...   (each branch restarts right after the prefix)
    segment    0 0 0 0 | 1  1  1  | 2  2  | ...   (-1 = padding)

A token may attend to an earlier token of the prefix or of its own branch (block causal mask),
so each probe's scores equal those of the one-probe sequence prefix + branch. The unpacked
layout (one probe per sequence) is the study's; it uses a plain causal 2-D padding mask.

Transformers' Llama *eager* attention adds the mask to the scores, so a boolean mask must be
turned into an additive float mask there (:func:`model_attention_mask`); SDPA accepts either.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ivr.data.examples import Example
from ivr.data.tokenization import Built


def sequences(built: Built, ex: Example, packed: bool, loglik: bool = False) -> list[dict[str, Any]]:
    """Lay an assembled example out as one packed sequence or one sequence per probe.

    Args:
        built: cached ids of the example.
        ex: the example record (for meta fields).
        packed: all probes after one prefix (True) or one sequence per probe (False).
        loglik: one branch per (probe, option) = the probe's branch + the option's continuation
            (its label token), with ``option_spans`` marking the continuation (log-likelihood scoring);
            every sequence then needs the block mask. Positions stay those of the one-probe sequence;
            the sequence holds O copies of each probe branch (``max_seq_length`` counts one).

    Returns:
        Sequence dicts of numpy arrays: ``input_ids``, ``position_ids``, ``segment_ids`` [T];
        ``answer_positions``, ``labels``, ``person``, ``setup``, ``form``, ``question`` [K];
        ``option_token_ids``, ``option_index`` (lists of K int arrays); ``n_demos``,
        ``demos_requested``, ``demos_dropped`` (ints); with ``loglik`` also ``option_spans`` (list of K
        int arrays [O, 2], (start, end) of each option's continuation, end exclusive).
    """
    groups = [list(range(len(built.branches)))] if packed else [[k] for k in range(len(built.branches))]
    out = []
    n_prefix = len(built.prefix)
    for group in groups:
        ids, pos, seg, answer = [built.prefix], [np.arange(n_prefix)], [np.zeros(n_prefix, np.int64)], []
        spans: list[np.ndarray] = []
        start, n_seg = n_prefix, 0
        for k in group:
            # loglik: one branch per option (probe tokens + that option's continuation), else one per probe
            conts = [[int(t)] for t in built.option_ids[k]] if loglik else [[]]
            span = np.zeros((len(conts), 2), np.int64)
            for o, cont in enumerate(conts):
                branch = list(built.branches[k]) + cont
                n = len(branch)
                n_seg += 1
                ids.append(branch)
                pos.append(np.arange(n_prefix, n_prefix + n))
                seg.append(np.full(n, n_seg, np.int64))
                if o == 0:
                    answer.append(start + len(built.branches[k]) - 1)
                span[o] = (start + n - len(cont), start + n)
                start += n
            spans.append(span)
        idx = np.asarray(group, dtype=np.int64)
        out.append({
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
        })
        if loglik:
            out[-1]["option_spans"] = spans
    return out


def block_mask(segment_ids: torch.Tensor) -> torch.Tensor:
    """Bool[B,1,T,T] block-causal mask from segment ids Long[B,T] (0 prefix, k branch, -1 pad).

    True = may attend. Padding rows attend only to themselves (no fully masked row, so no NaN).
    """
    t = segment_ids.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool, device=segment_ids.device).tril()
    q, k = segment_ids[:, :, None], segment_ids[:, None, :]
    allowed = causal & (k >= 0) & ((k == 0) | (k == q)) & (q >= 0)
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
