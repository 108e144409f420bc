"""``IndieValueReasoner``: a LightningModule that fine-tunes any HF causal LM to score value statements.

The module owns the model, the choice-scoring head, the optimiser and the protocol's torchmetrics. It
does no reporting: callbacks (top-level ``callbacks/``) write TensorBoard figures and tables, and the
entry points print the evaluation table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn

from ivr.data.packing import model_attention_mask
from ivr.model.build import apply_lora, build_causal_lm, meta_causal_lm, pretrained_folder, resolve_dtype
from ivr.model.heads import (
    SCORE_MODES,
    ChoiceOutput,
    answer_slots,
    choice_output,
    choice_scores,
    option_dot_scores,
)
from ivr.model.loglik import cached_prefix_loglik, loglik_from_hidden, loglik_from_logits, predicting_positions
from ivr.model.optim import build_optimizer
from ivr.model.predictions import flatten_probes
from ivr.model.sharding import load_pretrained_into_shards, shard_model

EMBEDDING_INITS = ("random", "spectral")


class IndieValueReasoner(L.LightningModule):
    """Fine-tunes a causal LM with a choice-scoring head on packed multi-probe batches.

    Args:
        model_name_or_path: hub id or local folder of a pretrained causal LM (``trust_remote_code=False``).
        model_config: config dict of a freshly initialised model (e.g. a tiny ``LlamaConfig``);
            exactly one of this and ``model_name_or_path``.
        vocab_size: the tokenizer's vocabulary size (linked from the data module by ``ivr.fit``).
        lr: peak learning rate.
        weight_decay: AdamW weight decay (matrices only; norms and biases are never decayed).
        warmup_ratio: fraction of the optimiser steps spent warming up linearly from 0.
        schedule: ``"linear"`` (decay to 0 after warm-up) or ``"constant"`` (flat after warm-up).
        betas: AdamW betas.
        score: ``"choice"`` (next-token logits on the option labels), or the log-likelihood of each option's
            whole answer (needs ``data.score_layout: option_text``): ``"loglik_sum"``, ``"loglik_mean"``
            (per token) or ``"loglik_char"`` (per character, lm-eval's ``acc_norm``).
        dtype: parameter dtype when loading (``float32`` keeps fp32 master weights).
        fsdp_param_dtype: FSDP2 compute dtype (e.g. ``"bfloat16"``); None follows the trainer precision.
        activation_checkpointing: recompute activations in backward (memory for compute).
        lora: train LoRA adapters only.
        qlora: load the base model in 4-bit nf4 (bitsandbytes) and train LoRA adapters on it.
        lora_r: adapter rank.
        lora_alpha: adapter scaling numerator.
        lora_dropout: adapter dropout.
        lora_target_modules: module names or ``"all-linear"``.
        embedding_init: ``"random"`` (the model's own initialisation) or ``"spectral"``: before a fresh
            fit with the statement tokenizer, statement embeddings start from the correspondence
            analysis of the data module's training people's answers (:mod:`ivr.model.spectral`).

    Raises:
        ValueError: an unknown score mode, or LoRA settings that cannot work.
    """

    def __init__(
        self,
        model_name_or_path: str | None = None,
        model_config: dict[str, Any] | None = None,
        vocab_size: int | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_ratio: float = 0.0,
        schedule: str = "linear",
        betas: tuple[float, float] = (0.9, 0.999),
        score: str = "choice",
        dtype: str = "float32",
        fsdp_param_dtype: str | None = None,
        activation_checkpointing: bool = False,
        lora: bool = False,
        qlora: bool = False,
        lora_r: int = 16,
        lora_alpha: int = 32,
        lora_dropout: float = 0.05,
        lora_target_modules: list[str] | str = "all-linear",
        embedding_init: str = "random",
    ) -> None:
        super().__init__()
        problems = []
        if score not in SCORE_MODES:
            problems.append(f"model.score={score!r}: use one of {SCORE_MODES}")
        if schedule not in ("linear", "constant"):
            problems.append(f"model.schedule={schedule!r}: use 'linear' or 'constant'")
        if not 0.0 <= warmup_ratio < 1.0:
            problems.append(f"model.warmup_ratio={warmup_ratio}: must be in [0, 1)")
        if lr <= 0:
            problems.append(f"model.lr={lr}: must be positive")
        if embedding_init not in EMBEDDING_INITS:
            problems.append(f"model.embedding_init={embedding_init!r}: use one of {EMBEDDING_INITS}")
        resolve_dtype(dtype)
        if problems:
            raise ValueError("invalid model settings:\n  " + "\n  ".join(problems))
        self.save_hyperparameters()
        self.model: nn.Module | None = None
        self.val_metrics: Any = None
        self.test_metrics: Any = None
        self.val_distribution: Any = None  # per-group distributional fit (synthetic or real catalogs)
        self.test_distribution: Any = None
        self.val_results: dict[str, Any] = {}
        self.test_results: dict[str, Any] = {}
        self.val_predictions: Any = None
        self.test_predictions: Any = None

    # --- model -------------------------------------------------------------------------------------

    def configure_model(self) -> None:
        """Build the LM (once), add adapters / checkpointing, and FSDP2-shard it under ModelParallelStrategy.

        A pretrained model under FSDP2 is built on the meta device, sharded, and then each rank receives
        only its shard of the weights from rank 0 (:func:`ivr.model.sharding.load_pretrained_into_shards`):
        no process holds a full copy. On one device it loads with ``from_pretrained``.
        """
        if self.model is not None:
            return
        hp = self.hparams
        mesh = self.device_mesh
        on_meta = mesh is not None and hp.model_name_or_path is not None and not hp.qlora
        if on_meta:
            model = meta_causal_lm(hp.model_name_or_path, hp.vocab_size, dtype=hp.dtype)
        else:
            model = build_causal_lm(
                hp.model_name_or_path, hp.model_config, hp.vocab_size, dtype=hp.dtype, load_in_4bit=hp.qlora
            )
        if hp.embedding_init == "spectral" and not on_meta:
            self._spectral_start(model)
        if hasattr(model, "exclude_from_pool"):
            self._pool_statements_only(model)
        if hp.activation_checkpointing:
            # non-reentrant checkpointing composes with FSDP2 and LoRA (frozen inputs)
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.config.use_cache = False
        if hp.lora or hp.qlora:
            model = apply_lora(
                model,
                hp.lora_r,
                hp.lora_alpha,
                hp.lora_dropout,
                hp.lora_target_modules,
                quantized=hp.qlora,
                gradient_checkpointing=hp.activation_checkpointing,
            )
        if mesh is not None:
            if hp.qlora:
                raise ValueError("model.qlora=true cannot be FSDP-sharded here; train QLoRA on one device")
            param_dtype = resolve_dtype(hp.fsdp_param_dtype) if hp.fsdp_param_dtype else None
            shard_model(model, mesh["data_parallel"], param_dtype=param_dtype)
        if on_meta:
            device = self.trainer.strategy.root_device if self._trainer is not None else torch.device("cpu")
            rank0 = not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0
            folder = pretrained_folder(hp.model_name_or_path) if rank0 else Path(hp.model_name_or_path)  # rank 0 reads
            load_pretrained_into_shards(model, folder, device, seed=torch.initial_seed())
        self.model = model

    def _spectral_start(self, model: nn.Module) -> None:
        """Statement embeddings from the training people's answers, at the start of a fit (a resumed fit or
        a test run loads its checkpoint's weights over them)."""
        from lightning.pytorch.trainer.states import TrainerFn

        trainer = self._trainer
        dm = getattr(trainer, "datamodule", None) if trainer is not None else None
        if dm is None or trainer.state.fn != TrainerFn.FITTING:
            return
        from ivr.model.spectral import spectral_start_for

        spectral_start_for(model, dm)

    def _pool_statements_only(self, model: nn.Module) -> None:
        """At the start of a fit, the statement-set reasoner stops pooling the question tokens (a probe's branch
        holds only its question token, so the probes of a sequence share one pool); a checkpoint restores it."""
        from lightning.pytorch.trainer.states import TrainerFn

        trainer = self._trainer
        dm = getattr(trainer, "datamodule", None) if trainer is not None else None
        if dm is None or trainer.state.fn != TrainerFn.FITTING:
            return
        from ivr.data.statement_tokenizer import is_statement_tokenizer, question_token_ids

        if is_statement_tokenizer(dm.tokenizer_dir):
            model.exclude_from_pool(question_token_ids(dm.tokenizer, dm.codebook))

    def _compute_dtype(self) -> torch.dtype:
        """The dtype attention runs in: autocast's, FSDP2's compute dtype, or the embedding's."""
        device = self.device.type
        if torch.is_autocast_enabled(device):
            return torch.get_autocast_dtype(device)
        if self.hparams.fsdp_param_dtype and self.device_mesh is not None:
            return resolve_dtype(self.hparams.fsdp_param_dtype)
        return self.model.get_input_embeddings().weight.dtype

    def _attention_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """Packed bool block masks -> additive 0 / min-float masks.

        Eager attention adds the mask (a bool one would be silently wrong), and on CPU sdpa runs about
        twice as fast with an additive mask as with a bool one.
        """
        if mask.dim() != 4 or mask.dtype != torch.bool:
            return mask
        return model_attention_mask(mask, self._compute_dtype())

    def _uses_plain_head(self) -> bool:
        """Whether logits are exactly ``output_embedding(hidden)`` (no soft-capping / scaling after it)."""
        cfg = self.model.config
        return not any(getattr(cfg, k, None) for k in ("final_logit_softcapping", "logit_scale", "output_multiplier"))

    def _head_scores(self, kwargs: dict[str, Any], score: Any, keep: int | torch.Tensor = 0) -> torch.Tensor:
        """Run the model with a pre-hook on the output embedding that scores from the final hidden states
        (``score(hidden, weight, bias)``) and hands the head a single position. The hook runs inside the
        model's forward, so under FSDP2 the head's weight is gathered at that moment. ``keep`` is passed
        as ``logits_to_keep``: the hook then sees the hidden states of those positions only (a model that
        computes positions independently, such as the statement-set reasoner, skips the others)."""
        captured: dict[str, torch.Tensor] = {}

        def hook(module: nn.Module, args: tuple) -> tuple:
            hidden = args[0]
            captured["scores"] = score(hidden, module.weight, getattr(module, "bias", None))
            return (hidden[:, :1], *args[1:])

        handle = self.model.get_output_embeddings().register_forward_pre_hook(hook)
        try:
            self.model(**kwargs, logits_to_keep=keep)
        finally:
            handle.remove()
        return captured["scores"]

    def _loglik_scores(self, kwargs: dict[str, Any], batch: dict[str, Any], mode: str) -> torch.Tensor:
        """Full-option scores [B, K, O]: the vocabulary projection runs at the continuation positions only.

        One tree pass: prefix, probe branches and option sub-branches under the block mask (training; the
        evaluation path, :func:`ivr.model.loglik.cached_prefix_loglik`, gives the same scores).
        """
        if "option_spans" not in batch:
            raise ValueError(f"model.score={mode!r} needs batch['option_spans']; set data.score_layout: option_text")
        if not self._uses_plain_head():
            keep = predicting_positions(batch)
            logits = self.model(**kwargs, logits_to_keep=keep).logits
            return loglik_from_logits(logits, keep, batch, mode)
        return self._head_scores(kwargs, lambda h, w, b: loglik_from_hidden(h, batch, w, b, mode))

    def _choice_scores(self, kwargs: dict[str, Any], batch: dict[str, Any]) -> torch.Tensor:
        """Option scores [B, K, O] from the LM's next-token logits at the answer slots.

        The vocabulary projection is the costliest layer of a small model, and only a handful of its
        rows are needed: :meth:`_head_scores` scores the option rows from the final hidden states.
        """
        pos, opt = batch["answer_positions"], batch["option_token_ids"]
        if not self._uses_plain_head():
            keep = answer_slots(pos)
            logits = self.model(**kwargs, logits_to_keep=keep).logits
            return choice_scores(logits, pos, opt, kept_positions=keep)
        if getattr(self.model, "computes_answer_positions", False):
            # the model returns each probe's hidden state in answer_positions order: probe k is column k
            cols = torch.arange(pos.shape[1], device=pos.device).expand_as(pos).masked_fill(pos < 0, -1)
            return self._head_scores(
                {**kwargs, "answer_positions": pos},
                lambda h, w, b: option_dot_scores(h, cols, opt, w, b, shared_rows=True),
            )
        keep = answer_slots(pos)
        return self._head_scores(
            kwargs, lambda h, w, b: option_dot_scores(h, pos, opt, w, b, kept_positions=keep), keep
        )

    def forward(self, batch: dict[str, Any]) -> ChoiceOutput:
        """Score every probe of a batch (see ``CONTRACTS.md`` for the batch layout)."""
        mode = self.hparams.score
        if mode != "choice" and self._uses_plain_head() and not torch.is_grad_enabled() and "prefix_lengths" in batch:
            # evaluation: each prefix once into a KV cache (only the branches' rows of the mask are made additive)
            scores = cached_prefix_loglik(
                self.model, self._head_scores, batch, batch["attention_mask"], self._attention_mask, mode
            )
            return choice_output(scores, batch.get("labels"))
        kwargs = {
            "input_ids": batch["input_ids"],
            "attention_mask": self._attention_mask(batch["attention_mask"]),
            "position_ids": batch.get("position_ids"),
            "use_cache": False,
        }
        scores = self._choice_scores(kwargs, batch) if mode == "choice" else self._loglik_scores(kwargs, batch, mode)
        return choice_output(scores, batch.get("labels"))

    # --- steps -------------------------------------------------------------------------------------

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        out = self(batch)
        bs = int(batch["input_ids"].shape[0])
        loss = out.loss
        world = self.trainer.world_size if self._trainer is not None else 1
        if world > 1:
            # ranks see different numbers of probes: divide by the global mean count so the averaged
            # gradient equals one process's mean over the same global batch
            local = torch.tensor(float(out.n_labelled), device=self.device)
            count = self.trainer.strategy.reduce(local, reduce_op="sum")
            loss = out.loss_sum / (count / world).clamp(min=1.0)
        self.log("train/loss", out.loss, prog_bar=True, batch_size=bs)
        self.log("train/probes", float(out.n_labelled), batch_size=bs, reduce_fx="sum")
        return loss

    def _eval_step(self, batch: dict[str, Any], stage: str) -> tuple[ChoiceOutput, dict[str, torch.Tensor]]:
        out = self(batch)
        flat = flatten_probes(batch, out)
        metric = self.val_metrics if stage == "val" else self.test_metrics
        if metric is not None and flat["pred"].numel():
            metric.update(
                flat["person"],
                flat["setup"],
                flat["form"],
                flat["question"],
                flat["pred"],
                flat["target"],
                flat["probs"],
            )
        distribution = self.val_distribution if stage == "val" else self.test_distribution
        if distribution is not None and flat["pred"].numel():
            distribution.update(flat["person"], flat["form"], flat["question"], flat["target"], flat["probs"])
        # weighted by labelled probes, so the epoch value is the mean over probes whatever the sharding; every
        # rank logs every step (padding batches with weight 0), so the epoch-end sync finds the key on all ranks
        self.log(f"{stage}/loss", out.loss, batch_size=out.n_labelled, sync_dist=True)
        return out, flat

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    # --- metrics -----------------------------------------------------------------------------------

    def setup(self, stage: str) -> None:
        """Create the protocol metrics with the data module's per-group labels (when it has a catalog)."""
        from ivr.metrics import ValueMetrics

        dm = self.trainer.datamodule if self._trainer is not None else None
        catalog = getattr(dm, "catalog", None)
        if self.val_metrics is None:
            self.val_metrics = ValueMetrics.for_catalog(catalog) if catalog is not None else ValueMetrics()
            self.test_metrics = ValueMetrics.for_catalog(catalog) if catalog is not None else ValueMetrics()
        if self.val_distribution is None and catalog is not None:
            from ivr.metrics.distribution_metric import GroupDistribution
            from ivr.metrics.summary import catalog_groups

            groups = catalog_groups(catalog)
            self.val_distribution = GroupDistribution.for_catalog(catalog, groups).to(self.device)
            self.test_distribution = GroupDistribution.for_catalog(catalog, groups).to(self.device)

    def _finish(self, metric: Any, stage: str) -> tuple[dict[str, Any], Any]:
        """Compute the epoch's scalars and keep all ranks' rows (``Predictions``) for the callbacks."""
        # every rank must join compute()'s collective, even one that saw no rows (it would hang the others)
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if metric is None or (not metric.update_called and not distributed):
            return {}, None
        results = metric.compute()
        with metric.sync_context():
            preds = metric.predictions().canonical()
        metric.reset()
        # the overall figures drive checkpointing / the progress bar; callbacks report the rest
        for key in ("all", "polar_avg", "refined_avg"):
            if key in results:
                self.log(f"{stage}/{key}", float(results[key]), prog_bar=key == "all", sync_dist=False)
        return results, preds

    def _finish_distribution(self, metric: Any, stage: str) -> None:
        """Log the epoch's distributional fit per dimension (``<stage>/distfit_<form>/<dimension>_w1|js``)."""
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if metric is None or (not metric.update_called and not distributed):
            return
        for name, value in metric.compute().items():  # sum states, synced across ranks by compute()
            self.log(f"{stage}/{name}", float(value), sync_dist=False)
        metric.reset()

    def on_validation_epoch_end(self) -> None:
        self.val_results, self.val_predictions = self._finish(self.val_metrics, "val")
        self._finish_distribution(self.val_distribution, "val")

    def on_test_epoch_end(self) -> None:
        self.test_results, self.test_predictions = self._finish(self.test_metrics, "test")
        self._finish_distribution(self.test_distribution, "test")

    # --- optimisation ------------------------------------------------------------------------------

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        total = int(self.trainer.estimated_stepping_batches)
        optimizer, scheduler = build_optimizer(
            self.model, hp.lr, hp.weight_decay, tuple(hp.betas), hp.warmup_ratio, hp.schedule, total
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "name": "train/lr"},
        }
