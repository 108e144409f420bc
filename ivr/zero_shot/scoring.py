"""``--scoring logits``: score each probe group's options instead of generating JSON.

After the same prompt, the reply of group k would open with ``{"NSGk": {"choice": "NSGk_s`` and
continue with the option number. The scorer runs the prompt once, copies its KV cache for a batch
of groups, appends each group's opening and reads the next-token logits at the option-number tokens
with the training issue's choice head (:func:`ivr.model.heads.choice_scores`). No text is
generated, so nothing can fail to parse, and the option probabilities feed the calibration metrics.
"""

from __future__ import annotations

import copy
from typing import Any

from ivr.errors import InputError
from ivr.zero_shot.backends import BackendOptions, check_model, context_length, load_tokenizer


def branch_text(group: int) -> str:
    """The opening of 1-based ``group``'s answer, up to where its option number goes."""
    return f'{{"NSG{group}": {{"choice": "NSG{group}_s'


def option_branch(tokenizer: Any, group: int, n_options: int) -> tuple[list[int], list[int]]:
    """(token ids of the opening shared by every option, token id of each option number).

    Raises:
        InputError: the tokenizer merges the option number into shared tokens, so options
            cannot be told apart by one next token.
    """
    text = branch_text(group)
    full = [tokenizer(text + str(j), add_special_tokens=False)["input_ids"] for j in range(1, n_options + 1)]
    common = 0
    while all(len(f) > common for f in full) and len({f[common] for f in full}) == 1:
        common += 1
    firsts = [f[common] if len(f) > common else -1 for f in full]
    if common == 0 or -1 in firsts or len(set(firsts)) != n_options:
        raise InputError(
            f"--scoring logits: the tokenizer does not give NSG{group}'s {n_options} option numbers "
            "distinct next tokens after a shared opening; use --scoring generate with this model"
        )
    return full[0][:common], firsts


class LogitScorer:
    """Option probabilities per probe group from a transformers causal LM.

    Args:
        model: model folder or hub id.
        options: backend settings (dtype, device, max_model_len; batch_size = groups per forward).
    """

    def __init__(self, model: str, options: BackendOptions) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        model = check_model(model)
        self.options = options
        self.tokenizer = load_tokenizer(model)
        self.device = options.device if options.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = "auto" if options.dtype == "auto" else getattr(torch, options.dtype)
        self.model = (
            AutoModelForCausalLM.from_pretrained(model, dtype=dtype, trust_remote_code=False).to(self.device).eval()
        )
        self.context_length = context_length(model, options.max_model_len)
        self._branches: dict[tuple[int, int], tuple[list[int], list[int]]] = {}

    def branch(self, group: int, n_options: int) -> tuple[list[int], list[int]]:
        """(opening token ids, token id of each option number) for 1-based ``group`` (cached)."""
        key = (group, n_options)
        if key not in self._branches:
            self._branches[key] = option_branch(self.tokenizer, group, n_options)
        return self._branches[key]

    def score(self, ids: list[int], n_options: list[int]) -> list[list[float]]:
        """Probabilities over each group's options (groups in prompt order).

        Args:
            ids: the prompt token ids (chat template applied).
            n_options: options per group.

        Returns:
            One list of probabilities per group.
        """
        import torch

        from ivr.model.heads import choice_output, choice_scores

        probs: list[list[float]] = []
        with torch.inference_mode():
            prefix = torch.tensor([ids], device=self.device)
            cache = self.model(input_ids=prefix, use_cache=True).past_key_values
            step = max(1, self.options.batch_size)
            for start in range(0, len(n_options), step):
                groups = list(range(start, min(start + step, len(n_options))))
                parts = [self.branch(k + 1, n_options[k]) for k in groups]
                width, n_opt = max(len(p[0]) for p in parts), max(n_options)
                pad = self.tokenizer.pad_token_id
                branch = torch.tensor([p[0] + [pad] * (width - len(p[0])) for p in parts], device=self.device)
                real = torch.tensor([[1] * len(p[0]) + [0] * (width - len(p[0])) for p in parts], device=self.device)
                mask = torch.cat([torch.ones(len(parts), len(ids), dtype=torch.long, device=self.device), real], 1)
                pos = (len(ids) + torch.arange(width, device=self.device)).expand(len(parts), width)
                kv = copy.deepcopy(cache)
                kv.batch_repeat_interleave(len(parts))
                logits = self.model(input_ids=branch, attention_mask=mask, position_ids=pos, past_key_values=kv).logits
                answer_at = torch.tensor([[len(p[0]) - 1] for p in parts], device=self.device)
                opt = torch.tensor([[p[1] + [-1] * (n_opt - len(p[1]))] for p in parts], device=self.device)
                out = choice_output(choice_scores(logits, answer_at, opt), None)
                for row, k in enumerate(groups):
                    probs.append(out.probs[row, 0, : n_options[k]].float().cpu().tolist())
        return probs

    def describe(self) -> dict[str, Any]:
        return {"scoring": "logits", "context_length": self.context_length}
