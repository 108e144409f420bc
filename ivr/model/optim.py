"""AdamW with decoupled weight decay on matrices only, and a warm-up + linear / constant schedule."""

from __future__ import annotations

import torch
from torch import nn

from ivr.errors import ConfigError


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Trainable parameters split into decayed (ndim >= 2) and not decayed (norms, biases)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    # the names become the learning-rate tags in TensorBoard (train/lr/decay, train/lr/no_decay)
    groups = [
        {"params": decay, "weight_decay": weight_decay, "name": "decay"},
        {"params": no_decay, "weight_decay": 0.0, "name": "no_decay"},
    ]
    return [g for g in groups if g["params"]]


def lr_lambda(warmup_steps: int, total_steps: int, schedule: str):
    """Multiplier of the peak lr at optimiser step ``s`` (0-based)."""

    def factor(step: int) -> float:
        if warmup_steps > 0 and step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        remaining = max(total_steps - warmup_steps, 1)
        return max(0.0, (total_steps - step) / remaining)

    return factor


def build_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float],
    warmup_ratio: float,
    schedule: str,
    total_steps: int,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW plus a per-step LambdaLR.

    Args:
        model: the module whose trainable parameters are optimised.
        lr: peak learning rate.
        weight_decay: decay for matrices.
        betas: AdamW betas.
        warmup_ratio: warm-up steps = ceil(ratio * total_steps).
        schedule: ``"linear"`` or ``"constant"`` after warm-up.
        total_steps: optimiser steps of the whole run (``trainer.estimated_stepping_batches``).

    Raises:
        ValueError: the model has no trainable parameter.
    """
    groups = parameter_groups(model, weight_decay)
    if not groups:
        raise ConfigError("the model has no trainable parameters (check model.lora / frozen layers)")
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=betas)
    total = max(int(total_steps), 1)
    warmup = int(-(-warmup_ratio * total // 1)) if warmup_ratio > 0 else 0
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(warmup, total, schedule))
    return optimizer, scheduler
