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
from ivr.checkpoints import META_FILE, is_distributed_checkpoint, safe_load
from ivr.errors import CheckpointError

__all__ = ["META_FILE", "export_hf", "is_distributed_checkpoint", "load_checkpoint", "reasoner_from_checkpoint"]

MODEL_FILES = ("config.json", "generation_config.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".index.json")


def _is_model_file(name: str) -> bool:
    """A model's own file (config or weights), as opposed to a tokenizer file."""
    return name in MODEL_FILES or name.endswith(WEIGHT_SUFFIXES)


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Full (unsharded) module state dict and hyper-parameters of a checkpoint.

    Args:
        path: a ``.ckpt`` file or a distributed checkpoint folder.

    Returns:
        (state_dict with LightningModule keys, e.g. ``model.model.layers.0...``, hyper_parameters).

    Raises:
        CheckpointError: nothing usable at ``path``, or a truncated / damaged checkpoint (one clear
            message; ivr never retries an unsafe load).
    """
    path = Path(path)
    if is_distributed_checkpoint(path):
        from torch.distributed.checkpoint import FileSystemReader
        from torch.distributed.checkpoint.default_planner import _EmptyStateDictLoadPlanner
        from torch.distributed.checkpoint.state_dict_loader import _load_state_dict

        state: dict[str, Any] = {}
        # one process reads every shard; only the weights, not the optimizer states
        try:
            _load_state_dict(
                state,
                FileSystemReader(str(path)),
                no_dist=True,
                planner=_EmptyStateDictLoadPlanner(keys={"state_dict"}),
            )
        except Exception as err:  # noqa: BLE001 - DCP raises its own wrappers for missing / damaged shards
            raise CheckpointError(
                f"--ckpt_path {path}: the distributed checkpoint cannot be read "
                f"({type(err).__name__}: {' '.join(str(err).split())[:200]}); a shard is "
                "missing or damaged: use another checkpoint"
            ) from None
        meta_file = path / META_FILE
        meta = safe_load(meta_file) if meta_file.is_file() else {}
        weights = state.get("state_dict")
    elif path.is_file():
        meta = safe_load(path)
        weights = meta.get("state_dict") if isinstance(meta, dict) else None
    else:
        raise CheckpointError(
            f"--ckpt_path {path}: no checkpoint there; give a .ckpt file or a distributed "
            "checkpoint folder written by ivr.fit"
        )
    if not isinstance(weights, dict):
        raise CheckpointError(
            f"--ckpt_path {path}: holds no model weights (no state_dict); give a checkpoint written by ivr.fit"
        )
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
    try:
        missing, unexpected = module.load_state_dict(weights, strict=strict)
    except RuntimeError as err:  # missing / unexpected keys or shape mismatches
        raise CheckpointError(
            f"--ckpt_path {path}: its weights do not fit the model rebuilt from its own "
            f"hyper-parameters ({' '.join(str(err).split())[:300]})"
        ) from None
    if strict is False and unexpected:
        raise CheckpointError(f"--ckpt_path {path}: has weights the rebuilt model lacks: {unexpected[:5]}")
    module.eval()
    return module


def export_hf(
    ckpt: str | Path,
    out: str | Path,
    merge: bool = True,
    tokenizer_dir: str | Path | None = None,
    dtype: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a Hugging Face folder from a reasoner checkpoint.

    Args:
        ckpt: ``.ckpt`` file or distributed checkpoint folder.
        out: destination folder (written atomically; an earlier export there is replaced, a folder
            with other files is refused before the checkpoint is read).
        merge: merge LoRA adapters into the base weights (full model); ``False`` writes the adapter only.
        tokenizer_dir: tokenizer folder to copy beside the weights (the data module's ``tokenizer_dir``).
        dtype: cast the saved weights (e.g. ``"bfloat16"``); None keeps the training dtype.
        overwrite: allow replacing an ivr output of another kind.

    Returns:
        The output folder.

    Raises:
        ConfigError: ``merge=False`` for a checkpoint without LoRA adapters.
        CheckpointError: an unreadable checkpoint.
        OutputFolderError: ``out`` holds files ivr did not write.
    """
    from ivr.errors import ConfigError, InputNotFoundError
    from ivr.outputs import check_output

    check_output(out, "export", overwrite)
    if tokenizer_dir is not None and not Path(tokenizer_dir).is_dir():
        raise InputNotFoundError(f"--tokenizer_dir {tokenizer_dir}: no such folder")
    module = reasoner_from_checkpoint(ckpt)
    model = module.model
    is_peft = hasattr(model, "peft_config")
    if not merge and not is_peft:
        raise ConfigError(f"--ckpt_path {ckpt} has no LoRA adapter to export on its own; export with --merge true")
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

    return atomic_dir(Path(out), write, "export", overwrite)
