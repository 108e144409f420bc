"""FSDP2 wrapping: ``fully_shard`` each decoder layer, then the whole model.

Decoder layers are found through the model's own ``_no_split_modules`` (``LlamaDecoderLayer`` for
Llama), so any HF causal LM — peft-wrapped or not — is wrapped the same way.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributed.device_mesh import DeviceMesh


def _hf_model(model: nn.Module) -> nn.Module:
    """The transformers model under an optional peft wrapper."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """The transformer blocks to shard one by one.

    Raises:
        ValueError: the model names no block class (``_no_split_modules``) or none is found.
    """
    names = set(getattr(_hf_model(model), "_no_split_modules", None) or [])
    if not names:
        raise ValueError(
            f"{type(_hf_model(model)).__name__} does not declare _no_split_modules; FSDP2 wrapping needs the "
            "decoder-layer class name"
        )
    layers = [m for m in model.modules() if type(m).__name__ in names]
    if not layers:
        raise ValueError(f"no module of class {sorted(names)} found in {type(model).__name__}")
    return layers


def shard_model(
    model: nn.Module,
    mesh: DeviceMesh,
    param_dtype: torch.dtype | None = None,
    reshard_after_forward: bool = True,
) -> nn.Module:
    """Apply FSDP2 per decoder layer, then to the root.

    Args:
        model: the (possibly peft-wrapped) causal LM, on CPU or the meta device.
        mesh: the 1-D data-parallel mesh (``LightningModule.device_mesh["data_parallel"]``).
        param_dtype: compute dtype of the all-gathered parameters (e.g. bf16), fp32 reductions;
            None keeps the stored dtype (Lightning's mixed precision then autocasts).
        reshard_after_forward: free gathered layer weights after forward (ZeRO-3 behaviour).

    Returns:
        The same module, now an ``FSDPModule`` with DTensor parameters.
    """
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    kwargs: dict = {"mesh": mesh, "reshard_after_forward": reshard_after_forward}
    if param_dtype is not None:
        kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=torch.float32)
    for layer in decoder_layers(model):
        fully_shard(layer, **kwargs)
    # the root keeps its (small) embedding / head gathered from forward to backward, as FSDP2 does by
    # default: the choice head reads the output embedding inside a forward hook
    fully_shard(model, **{**kwargs, "reshard_after_forward": False})
    return model


def is_sharded(model: nn.Module) -> bool:
    """Whether ``model`` has been wrapped by FSDP2."""
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)
