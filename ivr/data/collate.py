"""Collate sequence dicts into the batch format of CONTRACTS.md (dynamic right padding)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ivr.data.packing import block_mask

META_KEYS = ("person", "setup", "form", "question")


class Collator:
    """Pads a list of sequences (from :func:`ivr.data.packing.sequences`) into a batch.

    Args:
        pad_id: token id used for padding ``input_ids``.
        packed: emit the Bool[B,1,T,T] block mask (True) or the Long[B,T] padding mask (False);
            sequences with ``option_spans`` (one sub-branch per option) always get the block mask.
    """

    def __init__(self, pad_id: int, packed: bool) -> None:
        self.pad_id, self.packed = int(pad_id), packed

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        b = len(items)
        t = max(len(x["input_ids"]) for x in items)
        k = max(len(x["answer_positions"]) for x in items)
        o = max((len(ids) for x in items for ids in x["option_token_ids"]), default=1)
        input_ids = np.full((b, t), self.pad_id, np.int64)
        position_ids = np.zeros((b, t), np.int64)
        segment = np.full((b, t), -1, np.int64)
        answer = np.full((b, k), -1, np.int64)
        labels = np.full((b, k), -1, np.int64)
        option_ids = np.full((b, k, o), -1, np.int64)
        option_index = np.full((b, k, o), -1, np.int64)
        meta = {key: np.full((b, k), -1, np.int64) for key in META_KEYS}
        for i, x in enumerate(items):
            n, m = len(x["input_ids"]), len(x["answer_positions"])
            input_ids[i, :n] = x["input_ids"]
            position_ids[i, :n] = x["position_ids"]
            segment[i, :n] = x["segment_ids"]
            answer[i, :m] = x["answer_positions"]
            labels[i, :m] = x["labels"]
            for j in range(m):
                option_ids[i, j, : len(x["option_token_ids"][j])] = x["option_token_ids"][j]
                option_index[i, j, : len(x["option_index"][j])] = x["option_index"][j]
            for key in META_KEYS:
                meta[key][i, :m] = x[key]
        seg = torch.from_numpy(segment)
        options = "option_spans" in items[0]  # full-option layout: every option's answer in its own sub-branch
        sub = None
        if options:
            sub_ids = np.zeros((b, t), np.int64)
            for i, x in enumerate(items):
                sub_ids[i, : len(x["sub_ids"])] = x["sub_ids"]
            sub = torch.from_numpy(sub_ids)
        batch: dict[str, Any] = {
            "input_ids": torch.from_numpy(input_ids),
            "position_ids": torch.from_numpy(position_ids),
            "attention_mask": block_mask(seg, sub) if self.packed or options else (seg >= 0).long(),
            "answer_positions": torch.from_numpy(answer),
            "option_token_ids": torch.from_numpy(option_ids),
            "labels": torch.from_numpy(labels),
            "option_index": torch.from_numpy(option_index),
            "meta": {key: torch.from_numpy(v) for key, v in meta.items()},
        }
        if options:
            spans = np.full((b, k, o, 2), -1, np.int64)
            chars = np.full((b, k, o), -1, np.int64)
            for i, x in enumerate(items):
                for j, (span, n_chars) in enumerate(zip(x["option_spans"], x["option_chars"])):
                    spans[i, j, : len(span)] = span
                    chars[i, j, : len(n_chars)] = n_chars
            batch["option_spans"] = torch.from_numpy(spans)
            batch["option_chars"] = torch.from_numpy(chars)
            batch["prefix_lengths"] = torch.tensor([x["prefix_length"] for x in items], dtype=torch.long)
            batch["lengths"] = torch.tensor([len(x["input_ids"]) for x in items], dtype=torch.long)
        for key in ("n_demos", "demos_requested", "demos_dropped"):
            batch[key] = torch.tensor([x[key] for x in items], dtype=torch.long)
        return batch
