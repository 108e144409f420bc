"""An order-free statement reasoner for the CPU: the pooled statements a position sees, through an MLP.

Given one person, the demonstrations are exchangeable: the exact posterior over what they answer next
depends on *which* statements they chose, not on the order they are shown in (the synthetic
population's Bayes predictor is a sum of per-statement log-likelihoods). A transformer has to learn
that from data; this model has it built in (README, *Reasoner against Resemble and the exact Bayes
ceiling*, for what it reaches and at what CPU cost). Each position ``t`` pools the embeddings of the
tokens its attention mask lets it see -- the person's statements (demonstrations, demographics); the
statement tokenizer's question tokens are left out of the pool (they only mark where a probe is asked,
and the option tokens the head reads already name the question) -- scaled by ``1 / sqrt(count)``, and an
MLP turns the pool into the hidden state the choice head reads at the probe's answer position
(``hidden . output_embedding[option]``, as for any causal LM here).

Cost: every probe of a packed sequence then pools the same statements, so the model computes one pool and
one MLP pass per sequence, at the probes' own positions only (``answer_positions``), and the head scores
them with one product onto the small vocabulary (:func:`ivr.model.heads.option_dot_scores` with
``shared_rows``): a training step of 64 sequences costs about a quarter of pooling every position.

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

from ivr.model.heads import distinct_rows

MODEL_TYPE = "ivr_statement_set"


class StatementSetConfig(PretrainedConfig):
    """Sizes of the statement-set reasoner.

    Args:
        vocab_size: the statement tokenizer's vocabulary (set by the data module).
        hidden_size: width of the statement embeddings that are pooled.
        intermediate_size: width of the MLP and of the hidden state the choice head reads.
        num_hidden_layers: MLP layers after the pool (each Linear + GELU; a last Linear follows).
        initializer_range: standard deviation of the initial weights (the spectral start scales to it).
        num_members: independent members (own embeddings, MLP and output rows; one shared output bias) whose
            option scores are averaged at evaluation; in training each sequence of a batch trains one member
            (its index in the batch modulo ``num_members``), so every member learns from its own share of the
            shuffled sequences, and a step costs about what one member's does.
    """

    model_type = MODEL_TYPE

    def __init__(
        self,
        vocab_size: int = 256,
        hidden_size: int = 128,
        intermediate_size: int = 256,
        num_hidden_layers: int = 2,
        initializer_range: float = 0.1,
        pad_token_id: int = 0,
        num_members: int = 1,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.initializer_range = initializer_range
        self.num_members = num_members
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
    computes_answer_positions = True  # forward takes answer_positions (IndieValueReasoner._choice_scores)
    base_model_prefix = "statement_set"
    main_input_name = "input_ids"

    def __init__(self, config: StatementSetConfig) -> None:
        super().__init__(config)
        members = self.members = int(getattr(config, "num_members", 1))
        if members < 1:
            from ivr.errors import ConfigError

            raise ConfigError(f"model.model_config.num_members={members}: use an integer >= 1")
        # members side by side: member k owns columns [k * width, (k + 1) * width) of the embeddings and the
        # output rows; one member keeps the single MLP's parameter names (checkpoints of either load)
        self.embed_tokens = nn.Embedding(config.vocab_size, members * config.hidden_size)
        mlps = [self._member_mlp(config) for _ in range(members)]
        self.mlp = mlps[0] if members == 1 else nn.ModuleList(mlps)
        self.lm_head = nn.Linear(members * config.intermediate_size, config.vocab_size, bias=True)
        # 1 for the tokens a position pools, 0 for those it does not (question tokens: they ask, they are not
        # the person's statements); set from the tokenizer at the start of a fit, saved with the weights
        self.register_buffer("pool_weight", torch.ones(config.vocab_size), persistent=True)
        self.post_init()

    @staticmethod
    def _member_mlp(config: StatementSetConfig) -> nn.Sequential:
        layers: list[nn.Module] = []
        width = config.hidden_size
        for _ in range(config.num_hidden_layers):
            layers += [nn.Linear(width, config.intermediate_size), nn.GELU()]
            width = config.intermediate_size
        layers.append(nn.Linear(width, config.intermediate_size))
        return nn.Sequential(*layers)

    def member_mlps(self) -> list[nn.Module]:
        return [self.mlp] if self.members == 1 else list(self.mlp)

    def exclude_from_pool(self, token_ids: list[int]) -> None:
        """Stop pooling these tokens (the statement tokenizer's question tokens)."""
        weight = torch.ones_like(self.pool_weight)
        if token_ids:
            weight[torch.as_tensor(token_ids, dtype=torch.long, device=weight.device)] = 0.0
        self.pool_weight.copy_(weight)

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

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        answer_positions: torch.Tensor | None = None,
        **_: Any,
    ) -> CausalLMOutput:
        """Next-token logits (``position_ids`` and ``use_cache`` are ignored: the pool has no order and
        nothing to cache).

        Args:
            input_ids, attention_mask: the batch (``CONTRACTS.md``).
            logits_to_keep: positions to return (0 = all; an int n = the last n; or a 1-D tensor).
            answer_positions: long [B, K] (-1 = none): when given, the logits at each sequence's own probe
                positions instead, [B, K, V] (the reasoner's choice head passes it: a batch's union of
                positions would include other sequences' prefix positions).

        Positions of one sequence that pool the same tokens (the probes of a packed sequence, whose branches
        hold only their question token) share one pooling and MLP pass.
        """
        seen = visibility(attention_mask, input_ids) * self.pool_weight[input_ids].unsqueeze(1)  # [B, T, T]
        b, t = input_ids.shape
        if answer_positions is not None:
            rows = torch.arange(b, device=input_ids.device).unsqueeze(1)
            seen = seen[rows, answer_positions.clamp(min=0)]  # [B, K, T]
        elif isinstance(logits_to_keep, int):
            seen = seen[:, t - logits_to_keep if 0 < logits_to_keep <= t else 0 :]
        else:
            seen = seen[:, logits_to_keep.to(input_ids.device)]
        u = seen.shape[1]
        seq = torch.arange(b, device=input_ids.device).repeat_interleave(u)
        flat = seen.reshape(-1, t)
        first, inverse = distinct_rows(torch.cat([seq[:, None].to(flat.dtype), flat], 1))
        emb = self.embed_tokens(input_ids)
        weights = flat[first].to(emb.dtype)  # [N, T]: the distinct pools
        norm = weights.sum(-1, keepdim=True).clamp(min=1).sqrt()
        if self.members > 1 and self.training:
            hidden = self._train_members(emb.view(b, t, self.members, -1), weights / norm, seq[first])
        else:
            if first.numel() <= 4 * b:
                pooled = torch.einsum("nt,nth->nh", weights, emb[seq[first]])
            else:  # many distinct pools (every position of a sequence): one batched product
                pooled = torch.bmm(seen.to(emb.dtype), emb).reshape(-1, emb.shape[-1])[first]
            pooled = (pooled / norm).view(len(first), self.members, -1)
            # the members' scores averaged: each member's hidden state over the member count
            hidden = torch.cat([mlp(pooled[:, k]) for k, mlp in enumerate(self.member_mlps())], -1) / self.members
        return CausalLMOutput(logits=self.lm_head(hidden[inverse].view(b, u, -1)))

    def _train_members(self, emb: torch.Tensor, weights: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
        """Training with several members: the pools of sequence ``i`` go through member ``i % members`` only;
        the other members' blocks of its hidden state are 0, so its scores are that member's alone.

        Args:
            emb: [B, T, members, H] statement embeddings; weights: [N, T] the pools (scaled); seq: [N] their
                sequences.
        Returns:
            [N, members * intermediate_size].
        """
        member = seq % self.members
        pooled = torch.einsum("nt,nth->nh", weights, emb[seq, :, member])  # [N, H], each pool its member's
        hidden = pooled.new_zeros(len(seq), self.members, self.config.intermediate_size)
        for k, mlp in enumerate(self.member_mlps()):
            rows = (member == k).nonzero().squeeze(1)
            if rows.numel():
                hidden = hidden.index_put((rows, torch.full_like(rows, k)), mlp(pooled[rows]))
        return hidden.reshape(len(seq), -1)


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
        raise ConfigError(
            f"model.score={score}: model_type {MODEL_TYPE} scores probes with the choice head only; "
            "set model.score: choice"
        )
    if tokenizer != "statement":
        raise ConfigError(
            f"data.tokenizer={tokenizer}: model_type {MODEL_TYPE} pools statement tokens; set data.tokenizer: statement"
        )
