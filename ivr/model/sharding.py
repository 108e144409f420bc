"""FSDP2 wrapping (``fully_shard`` each decoder layer, then the whole model) and loading pretrained weights
straight into the shards.

Decoder layers are found through the model's own ``_no_split_modules`` (``LlamaDecoderLayer`` for
Llama), so any HF causal LM — peft-wrapped or not — is wrapped the same way. A pretrained model under
FSDP2 is built on the meta device, sharded, then materialised and filled by
:func:`load_pretrained_into_shards` (rank 0 reads, each rank receives only its shard).
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

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


# ---- pretrained weights into FSDP2 shards (meta-device build) ----------------------------------------

_DTYPES = {
    "BF16": torch.bfloat16,
    "F16": torch.float16,
    "F32": torch.float32,
    "F64": torch.float64,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


class SafetensorsFolder:
    """Tensors of a Hugging Face weights folder (``model.safetensors`` or a sharded index), read one at a time.

    Reads with plain file reads into fresh tensors instead of memory-mapping the files, so a process's
    resident memory holds at most the tensor being read, not the mapped files.

    Raises:
        FileNotFoundError: the folder has no safetensors weights.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        index = self.folder / "model.safetensors.index.json"
        if index.is_file():
            files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        elif (self.folder / "model.safetensors").is_file():
            files = ["model.safetensors"]
        else:
            raise FileNotFoundError(
                f"{self.folder}: no model.safetensors or model.safetensors.index.json "
                "(meta-device loading reads safetensors weights; re-save the model with save_pretrained)"
            )
        self.entries: dict[str, tuple[Path, int, dict]] = {}
        for name in files:
            path = self.folder / name
            with path.open("rb") as f:
                n = struct.unpack("<Q", f.read(8))[0]
                header = json.loads(f.read(n))
            header.pop("__metadata__", None)
            for key, entry in header.items():
                self.entries[key] = (path, 8 + n, entry)

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def dtype(self, key: str) -> torch.dtype:
        return _DTYPES[self.entries[key][2]["dtype"]]

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(self.entries[key][2]["shape"])

    def read(self, key: str) -> torch.Tensor:
        path, base, entry = self.entries[key]
        start, end = entry["data_offsets"]
        out = torch.empty(end - start, dtype=torch.uint8)
        with path.open("rb") as f:
            f.seek(base + start)
            if f.readinto(memoryview(out.numpy())) != end - start:
                raise ValueError(f"{path}: tensor {key} is truncated")
        return out.view(self.dtype(key)).reshape(self.shape(key))


def checkpoint_key(fqn: str) -> str:
    """The Hugging Face checkpoint name of a (peft-wrapped) parameter: ``base_model.model.`` and
    ``.base_layer`` are peft's additions."""
    fqn = fqn.removeprefix("base_model.model.")
    return fqn.replace(".base_layer.", ".")


def _lora_init(fqn: str, shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator) -> torch.Tensor:
    """peft's default initialisation of a LoRA weight (A: Kaiming-uniform, B: zeros; embeddings the other way)."""
    t = torch.empty(shape, dtype=torch.float32)
    if ".lora_A." in fqn:
        torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5), generator=generator)
    elif ".lora_embedding_B." in fqn:
        torch.nn.init.normal_(t, generator=generator)
    else:  # lora_B, lora_embedding_A
        torch.nn.init.zeros_(t)
    return t.to(dtype)


def reset_rotary_buffers(model: nn.Module) -> set[str]:
    """Recompute the rotary embeddings' buffers (``inv_freq``, ``original_inv_freq``: non-persistent, so garbage
    after ``to_empty``) the way ``from_pretrained`` does: a fresh module of the same class, built from the same
    config on the CPU, whatever its rope type (default, linear, dynamic, yarn, longrope, llama3, ...) and
    whatever signature transformers gives the rope functions.

    Returns:
        The names of the buffers it set.

    Raises:
        ValueError: a rotary module cannot be rebuilt from its ``config``.
    """
    done = set()
    for name, module in model.named_modules():
        if "RotaryEmbedding" not in type(module).__name__ or not hasattr(module, "inv_freq"):
            continue
        config = getattr(module, "config", None)
        try:
            with torch.device("cpu"):
                fresh = type(module)(config)
        except (TypeError, KeyError, AttributeError, ValueError) as err:
            raise ValueError(
                f"cannot rebuild {type(module).__name__} ({name}) from its config after a meta-device "
                f"build ({type(err).__name__}: {err}); load this model without sharding (one device)"
            ) from err
        with torch.no_grad():
            for buf, value in fresh.named_buffers(recurse=False):
                target = getattr(module, buf, None)
                if isinstance(target, torch.Tensor) and isinstance(value, torch.Tensor):
                    target.copy_(value)
                    done.add(f"{name}.{buf}" if name else buf)
        for attr in ("attention_scaling", "max_seq_len_cached", "original_max_seq_len"):
            if hasattr(fresh, attr):
                setattr(module, attr, getattr(fresh, attr))
    return done


def load_pretrained_into_shards(model: nn.Module, folder: str | Path, device: torch.device, seed: int = 0) -> None:
    """Materialise an FSDP2-sharded meta-device model and fill its shards with a pretrained folder's weights.

    Rank 0 reads each tensor from the safetensors files (one at a time, no memory map) and scatters it:
    every rank receives only its own shard (``distribute_tensor(..., src_data_rank=0)``), so no process
    ever holds the whole model. LoRA weights, which the checkpoint lacks, get peft's default
    initialisation (drawn on rank 0 from ``seed``); rotary ``inv_freq`` buffers are recomputed.

    Args:
        model: the ``fully_shard``-ed model, still on the meta device (peft-wrapped or not).
        folder: local folder with ``config.json`` and safetensors weights.
        device: where the shards live (``cuda:<local rank>`` or ``cpu``).
        seed: seed of the LoRA initialisation.

    Raises:
        ValueError: (on every rank) the checkpoint lacks a weight the model needs, or has another shape;
            or the model has non-persistent buffers this loader cannot recompute.
    """
    import torch.distributed as dist
    from torch.distributed.tensor import DTensor, distribute_tensor

    rank = dist.get_rank() if dist.is_initialized() else 0
    params = list(model.named_parameters())
    non_persistent = {
        f"{m}.{b}" if m else b for m, mod in model.named_modules() for b in mod._non_persistent_buffers_set
    }
    buffers = [(n, b) for n, b in model.named_buffers() if n not in non_persistent]
    plan: list = [None, []]  # [problems, per tensor (source, dtype)]
    if rank == 0:
        reader, problems = SafetensorsFolder(folder), []
        for fqn, tensor in params + buffers:
            key = checkpoint_key(fqn)
            if key in reader:
                if reader.shape(key) != tuple(tensor.shape):
                    problems.append(f"{key}: checkpoint shape {reader.shape(key)} != model shape {tuple(tensor.shape)}")
                plan[1].append(("file", reader.dtype(key)))
            elif ".lora_" in fqn:
                plan[1].append(("lora", tensor.dtype))
            else:
                problems.append(f"{key}: missing from the checkpoint")
        plan[0] = problems
    if dist.is_initialized():
        dist.broadcast_object_list(plan, src=0)
    problems, sources = plan
    if problems:
        raise ValueError(
            f"{folder}: the weights do not fit the model built from its config.json: "
            + "; ".join(problems[:5])
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        )
    model.to_empty(device=device)
    # to_empty may swap in new tensors (it does for modules FSDP2 has not wrapped): look them up again by name
    names = [fqn for fqn, _ in params + buffers]
    current = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    generator = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for fqn, (source, dtype) in zip(names, sources):
            tensor = current[fqn]
            if rank == 0:
                full = (
                    reader.read(checkpoint_key(fqn))
                    if source == "file"
                    else _lora_init(fqn, tuple(tensor.shape), dtype, generator)
                )
                full = full.to(device)
            else:
                full = torch.empty(tuple(tensor.shape), dtype=dtype, device=device)  # pages untouched: a shape only
            if isinstance(tensor, DTensor):
                local = distribute_tensor(full, tensor.device_mesh, tensor.placements, src_data_rank=0).to_local()
                tensor.to_local().copy_(local)
            else:
                if dist.is_initialized():
                    dist.broadcast(full, src=0)
                tensor.copy_(full)
            del full
    left = non_persistent - reset_rotary_buffers(model)
    if left:
        raise ValueError(
            f"cannot recompute the non-persistent buffers {sorted(left)[:5]} after a meta-device build; "
            "load this model without sharding (one device) or add it to reset_rotary_buffers"
        )
