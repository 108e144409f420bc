"""An order-free statement reasoner for the CPU: the pooled statements a position sees, through an MLP.

Given one person, the demonstrations are exchangeable: the exact posterior over what they answer next
depends on *which* statements they chose, not on the order they are shown in (the synthetic
population's Bayes predictor is a sum of per-statement log-likelihoods). A transformer has to learn
that from data; this model has it built in (README, *Reasoner against Resemble and the exact Bayes
ceiling*, for what it reaches and at what CPU cost). Each position ``t`` pools the embeddings of the
tokens its attention mask lets it see (the prefix's demonstrations and its own probe branch), scaled
by ``1 / sqrt(count)``, and an MLP turns the pool into the hidden state the choice head reads at the
probe's answer position (``hidden . output_embedding[option]``, as for any causal LM here).

It is a transformers ``PreTrainedModel`` registered under ``model_type: ivr_statement_set``, so the
reasoner builds it from ``model.model_config`` like the tiny Llama (``trust_remote_code`` is never
needed: the class lives in this package), and checkpoints, evaluation and TensorBoard work unchanged.
It reads statement tokens only (``data.tokenizer: statement``), scores with ``model.score: choice``,
and has no KV cache; vLLM does not know the architecture, so it cannot be served there.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

MODEL_TYPE = "ivr_statement_set"


class StatementSetConfig(PretrainedConfig):
    """Sizes of the statement-set reasoner.

    Args:
        vocab_size: the statement tokenizer's vocabulary (set by the data module).
        hidden_size: width of the statement embeddings that are pooled.
        intermediate_size: width of the MLP and of the hidden state the choice head reads.
        num_hidden_layers: MLP layers after the pool (each Linear + GELU; a last Linear follows).
        initializer_range: standard deviation of the initial weights (the spectral start scales to it).
    """

    model_type = MODEL_TYPE

    def __init__(self, vocab_size: int = 256, hidden_size: int = 128, intermediate_size: int = 256,
                 num_hidden_layers: int = 2, initializer_range: float = 0.1, pad_token_id: int = 0,
                 **kwargs: Any) -> None:
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.initializer_range = initializer_range
        kwargs.setdefault("tie_word_embeddings", False)
        super().__init__(pad_token_id=pad_token_id, **kwargs)


def visibility(attention_mask: torch.Tensor | None, input_ids: torch.Tensor) -> torch.Tensor:
    """float [B, T, T]: 1 where position t sees position j.

    Accepts the data module's masks (CONTRACTS.md): a 4-D block mask, bool (True = seen) or additive
    (0 = seen), or a 2-D padding mask, read causally.
    """
    b, t = input_ids.shape
    if attention_mask is None:
        attention_mask = torch.ones(b, t, dtype=torch.long, device=input_ids.device)
    if attention_mask.dim() == 4:
        seen = attention_mask[:, 0] if attention_mask.dtype == torch.bool else attention_mask[:, 0] == 0
        return seen.float()
    causal = torch.ones(t, t, dtype=torch.bool, device=input_ids.device).tril()
    return (causal[None] & attention_mask.bool()[:, None, :]).float()


class StatementSetForCausalLM(PreTrainedModel):
    """Pooled statement embeddings -> MLP -> the hidden state read by the output embedding (choice head)."""

    config_class = StatementSetConfig
    base_model_prefix = "statement_set"
    main_input_name = "input_ids"

    def __init__(self, config: StatementSetConfig) -> None:
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        layers: list[nn.Module] = []
        width = config.hidden_size
        for _ in range(config.num_hidden_layers):
            layers += [nn.Linear(width, config.intermediate_size), nn.GELU()]
            width = config.intermediate_size
        layers.append(nn.Linear(width, config.intermediate_size))
        self.mlp = nn.Sequential(*layers)
        self.lm_head = nn.Linear(config.intermediate_size, config.vocab_size, bias=True)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)
        elif isinstance(module, nn.Linear):
            if module is self.lm_head:
                nn.init.normal_(module.weight, std=0.02)
            else:
                nn.init.normal_(module.weight, std=1.0 / math.sqrt(module.in_features))
            nn.init.zeros_(module.bias)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                logits_to_keep: int | torch.Tensor = 0, **_: Any) -> CausalLMOutput:
        """Next-token logits at the kept positions (``position_ids`` and ``use_cache`` are ignored:
        the pool has no order and nothing to cache)."""
        seen = visibility(attention_mask, input_ids)
        emb = self.embed_tokens(input_ids)
        pooled = torch.bmm(seen.to(emb.dtype), emb) / seen.sum(-1, keepdim=True).clamp(min=1).sqrt().to(emb.dtype)
        hidden = self.mlp(pooled)
        if isinstance(logits_to_keep, int):
            kept = hidden[:, -logits_to_keep:] if logits_to_keep > 0 else hidden
        else:
            kept = hidden[:, logits_to_keep]
        return CausalLMOutput(logits=self.lm_head(kept))


def register() -> None:
    """Make ``model_type: ivr_statement_set`` known to the transformers Auto classes (idempotent)."""
    try:
        AutoConfig.register(MODEL_TYPE, StatementSetConfig)
    except ValueError:  # already registered in this process
        pass
    try:
        AutoModelForCausalLM.register(StatementSetConfig, StatementSetForCausalLM)
    except ValueError:
        pass


def check_statement_set(model_config: dict[str, Any] | None, score: str, tokenizer: str) -> None:
    """The statement-set reasoner reads statement tokens and scores with the choice head.

    Raises:
        ConfigError: naming the flag and the value that fixes it.
    """
    from ivr.errors import ConfigError

    if not model_config or model_config.get("model_type") != MODEL_TYPE:
        return
    if score != "choice":
        raise ConfigError(f"model.score={score}: model_type {MODEL_TYPE} scores probes with the choice head only; "
                          "set model.score: choice")
    if tokenizer != "statement":
        raise ConfigError(f"data.tokenizer={tokenizer}: model_type {MODEL_TYPE} pools statement tokens; "
                          "set data.tokenizer: statement")
