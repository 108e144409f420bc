"""Checkpoint -> Hugging Face folder that transformers (and vLLM) load.

Reads a single-file Lightning checkpoint (``.ckpt``) or a distributed (FSDP2) checkpoint folder written
by ``ModelParallelStrategy`` (DCP shards + ``meta.pt``), consolidates the weights on CPU in one process,
rebuilds the reasoner from the stored hyper-parameters and writes either the full model (LoRA merged
in) or the LoRA adapter alone. The tokenizer folder is copied beside the weights when given.
"""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path
from typing import Any

import torch

from ivr.catalog.store import atomic_dir

META_FILE = "meta.pt"  # Lightning's metadata file inside a distributed checkpoint folder


MODEL_FILES = ("config.json", "generation_config.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".index.json")


def _is_model_file(name: str) -> bool:
    """A model's own file (config or weights), as opposed to a tokenizer file."""
    return name in MODEL_FILES or name.endswith(WEIGHT_SUFFIXES)


def is_distributed_checkpoint(path: str | Path) -> bool:
    """A DCP folder written by ``ModelParallelStrategy`` (``.metadata`` + ``meta.pt``)."""
    path = Path(path)
    return path.is_dir() and (path / ".metadata").is_file()


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Full (unsharded) module state dict and hyper-parameters of a checkpoint.

    Args:
        path: a ``.ckpt`` file or a distributed checkpoint folder.

    Returns:
        (state_dict with LightningModule keys, e.g. ``model.model.layers.0...``, hyper_parameters).

    Raises:
        FileNotFoundError: nothing usable at ``path``.
    """
    path = Path(path)
    if is_distributed_checkpoint(path):
        from torch.distributed.checkpoint import FileSystemReader
        from torch.distributed.checkpoint.default_planner import _EmptyStateDictLoadPlanner
        from torch.distributed.checkpoint.state_dict_loader import _load_state_dict

        state: dict[str, Any] = {}
        # one process reads every shard; only the weights, not the optimizer states
        _load_state_dict(state, FileSystemReader(str(path)), planner=_EmptyStateDictLoadPlanner(keys={"state_dict"}),
                         no_dist=True)
        meta_file = path / META_FILE
        meta = torch.load(meta_file, map_location="cpu", weights_only=True) if meta_file.is_file() else {}
        weights = state["state_dict"]
    elif path.is_file():
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        weights, meta = ckpt["state_dict"], ckpt
    else:
        raise FileNotFoundError(f"no checkpoint at {path}: expected a .ckpt file or a distributed checkpoint folder")
    return {k: v.full_tensor() if hasattr(v, "full_tensor") else v for k, v in weights.items()}, meta.get(
        "hyper_parameters", {}
    )


def reasoner_from_checkpoint(path: str | Path, **overrides: Any) -> Any:
    """An ``IndieValueReasoner`` (single process, unsharded) with the checkpoint's weights.

    Args:
        path: ``.ckpt`` file or distributed checkpoint folder.
        **overrides: hyper-parameters to replace (e.g. ``model_name_or_path`` when the base moved).
    """
    from ivr.model.module import IndieValueReasoner

    weights, hparams = load_checkpoint(path)
    accepted = inspect.signature(IndieValueReasoner.__init__).parameters
    # LightningCLI stores extra entries (e.g. "_instantiator") beside the constructor arguments
    hparams = {k: v for k, v in {**hparams, **overrides}.items() if k in accepted}
    if hparams.get("qlora"):
        # rebuild the base unquantized and load the adapter on it: merging into 4-bit weights is lossy
        hparams.update(qlora=False, lora=True)
        weights = {k: v for k, v in weights.items() if "lora_" in k}
        strict = False
    else:
        strict = True
    module = IndieValueReasoner(**hparams)
    module.configure_model()
    missing, unexpected = module.load_state_dict(weights, strict=strict)
    if strict is False and unexpected:
        raise ValueError(f"checkpoint {path} has weights the rebuilt model lacks: {unexpected[:5]}")
    module.eval()
    return module


def export_hf(
    ckpt: str | Path,
    out: str | Path,
    merge: bool = True,
    tokenizer_dir: str | Path | None = None,
    dtype: str | None = None,
) -> Path:
    """Write a Hugging Face folder from a reasoner checkpoint.

    Args:
        ckpt: ``.ckpt`` file or distributed checkpoint folder.
        out: destination folder (written atomically, replaced if present).
        merge: merge LoRA adapters into the base weights (full model); ``False`` writes the adapter only.
        tokenizer_dir: tokenizer folder to copy beside the weights (the data module's ``tokenizer_dir``).
        dtype: cast the saved weights (e.g. ``"bfloat16"``); None keeps the training dtype.

    Returns:
        The output folder.

    Raises:
        ValueError: ``merge=False`` for a checkpoint without LoRA adapters.
    """
    module = reasoner_from_checkpoint(ckpt)
    model = module.model
    is_peft = hasattr(model, "peft_config")
    if not merge and not is_peft:
        raise ValueError(f"{ckpt} has no LoRA adapter to export on its own; export with merge=True")
    if merge and is_peft:
        model = model.merge_and_unload()
    if dtype is not None:
        from ivr.model.build import resolve_dtype

        model = model.to(resolve_dtype(dtype))

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp)
        if tokenizer_dir is not None:
            for item in Path(tokenizer_dir).iterdir():
                # the tokenizer's files only: a model folder given as tokenizer_dir must not bring its weights
                if item.is_file() and not (tmp / item.name).exists() and not _is_model_file(item.name):
                    shutil.copy2(item, tmp / item.name)

    return atomic_dir(Path(out), write)
