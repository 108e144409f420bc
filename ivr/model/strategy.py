"""The one place that decides the distributed strategy.

One device -> ``"auto"``; more than one -> FSDP2 through Lightning's ``ModelParallelStrategy`` (pure data
parallel: ``data_parallel_size = world``, ``tensor_parallel_size = 1``; its defaults would give tensor
parallelism). ``"ddp"`` stays selectable, and a ``Strategy`` object from the YAML is used as given.
``torchrun`` only supplies the environment.
"""

from __future__ import annotations

import os
from typing import Any

from ivr.errors import ConfigError

FSDP_NAMES = ("fsdp", "fsdp2", "model_parallel")


def count_devices(devices: Any, accelerator: str = "auto") -> int:
    """Devices per node that ``Trainer(devices=..., accelerator=...)`` will use.

    Args:
        devices: an int, a digit string, a list of device ids, ``"auto"`` or -1.
        accelerator: ``"cpu"``, ``"gpu"``, ``"cuda"`` or ``"auto"``.

    Raises:
        ValueError: ``devices`` cannot be read.
    """
    if isinstance(devices, (list, tuple)):
        return len(devices)
    if isinstance(devices, str) and devices.strip().lstrip("-").isdigit():
        devices = int(devices)
    if isinstance(devices, int) and devices > 0:
        return devices
    if devices in ("auto", -1, None):
        if "LOCAL_WORLD_SIZE" in os.environ:  # launched by torchrun
            return int(os.environ["LOCAL_WORLD_SIZE"])
        if accelerator == "cpu":
            return 1
        import torch

        return max(torch.cuda.device_count(), 1) if accelerator in ("auto", "gpu", "cuda") else 1
    raise ConfigError(f"trainer.devices={devices!r} is not understood; use an int, a list of ids or 'auto'")


def choose_strategy(
    strategy: Any = "auto", devices: Any = "auto", num_nodes: int = 1, accelerator: str = "auto"
) -> Any:
    """Pick the Lightning strategy for a run.

    Args:
        strategy: ``"auto"`` (decide from the world size), ``"fsdp"``/``"fsdp2"`` (force FSDP2),
            ``"ddp"``, any other Lightning strategy name, or a ``Strategy`` instance (returned as is).
        devices: ``trainer.devices``.
        num_nodes: ``trainer.num_nodes``.
        accelerator: ``trainer.accelerator``.

    Returns:
        ``"auto"``, a strategy name, or a ``ModelParallelStrategy`` instance.
    """
    if not isinstance(strategy, str):
        return strategy
    world = count_devices(devices, accelerator) * int(num_nodes)
    name = strategy.lower()
    if name == "auto":
        return "auto" if world == 1 else fsdp2_strategy(world)
    if name in FSDP_NAMES:
        return fsdp2_strategy(world)
    return strategy


def fsdp2_strategy(world: int) -> Any:
    """``ModelParallelStrategy`` configured for FSDP2 over ``world`` ranks (distributed checkpoints)."""
    from lightning.pytorch.strategies import ModelParallelStrategy

    return ModelParallelStrategy(data_parallel_size=world, tensor_parallel_size=1, save_distributed_checkpoint=True)
