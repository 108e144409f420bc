"""Build the causal LM the reasoner wraps: a hub id / local folder, or a config-built model; LoRA / QLoRA.

Everything loads with ``trust_remote_code=False``. A config-built model (``model_config`` dict, e.g. a
tiny ``LlamaConfig``) needs no download and is what the embedded default and the tests use.
:func:`meta_causal_lm` builds a pretrained model's architecture on the meta device (no memory), for
FSDP2 to shard before :func:`ivr.model.sharding.load_pretrained_into_shards` fills it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def tokenizer_size(datamodule: Any) -> int:
    """Vocabulary size of the data module's tokenizer: the model's embedding rows (``ivr.fit`` links
    ``data`` to ``model.vocab_size`` through it)."""
    return len(datamodule.load_tokenizer())


def resolve_dtype(name: str) -> torch.dtype:
    """``"bfloat16"`` -> ``torch.bfloat16``.

    Raises:
        ValueError: an unknown name; the message lists the accepted ones.
    """
    if name not in DTYPES:
        raise ValueError(f"model.dtype={name!r} is not supported; use one of {sorted(DTYPES)}")
    return DTYPES[name]


def config_from_dict(model_config: dict[str, Any], vocab_size: int | None = None) -> Any:
    """A transformers config from a plain dict (``model_type`` defaults to ``"llama"``).

    Args:
        model_config: config fields, e.g. ``{"hidden_size": 128, "num_hidden_layers": 2, ...}``.
        vocab_size: when given, overrides the dict's vocabulary size (the tokenizer decides it).
    """
    from transformers import AutoConfig

    from ivr.model.statement_set import register

    register()  # model_type: ivr_statement_set (the CPU reasoner) is this package's own
    fields = dict(model_config)
    model_type = fields.pop("model_type", "llama")
    if vocab_size is not None:
        fields["vocab_size"] = int(vocab_size)
    return AutoConfig.for_model(model_type, **fields)


def _bnb_4bit_config(compute_dtype: torch.dtype) -> Any:
    from transformers import BitsAndBytesConfig

    try:
        import bitsandbytes  # noqa: F401  (fail here with a clear message, not deep inside transformers)
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("model.qlora=true needs bitsandbytes: pip install -c constraints.txt 'ivr[quant]'") from err
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
    )


def build_causal_lm(
    model_name_or_path: str | None,
    model_config: dict[str, Any] | None,
    vocab_size: int | None = None,
    dtype: str = "float32",
    load_in_4bit: bool = False,
) -> nn.Module:
    """Instantiate the causal LM.

    Args:
        model_name_or_path: hub id or local folder of a pretrained model.
        model_config: config dict for a freshly initialised model (used when no path is given).
        vocab_size: the tokenizer's vocabulary size; a config-built model takes it, a pretrained
            model's embeddings are resized when the tokenizer is larger.
        dtype: parameter dtype when loading (``float32`` keeps fp32 master weights for mixed precision).
        load_in_4bit: quantize linear layers to 4-bit nf4 with bitsandbytes (QLoRA).

    Returns:
        A ``PreTrainedModel`` in train mode.

    Raises:
        ValueError: neither or both of ``model_name_or_path`` and ``model_config`` are given.
    """
    from transformers import AutoModelForCausalLM

    if (model_name_or_path is None) == (model_config is None):
        raise ValueError(
            "give exactly one of model.model_name_or_path (hub id or folder) and model.model_config "
            f"(a config dict); got model_name_or_path={model_name_or_path!r}, "
            f"model_config={'set' if model_config is not None else None}"
        )
    torch_dtype = resolve_dtype(dtype)
    quant = _bnb_4bit_config(torch.bfloat16 if torch_dtype == torch.float32 else torch_dtype) if load_in_4bit else None
    if model_config is not None:
        config = config_from_dict(model_config, vocab_size)
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=False, dtype=torch_dtype)
        if quant is not None:
            # bitsandbytes quantizes while loading weights: round-trip the fresh model through a folder
            with tempfile.TemporaryDirectory(prefix="ivr-qlora-") as tmp:
                model.save_pretrained(tmp)
                model = AutoModelForCausalLM.from_pretrained(tmp, quantization_config=quant, trust_remote_code=False)
    else:
        model = AutoModelForCausalLM.from_pretrained(
            model_name_or_path, dtype=torch_dtype, quantization_config=quant, trust_remote_code=False
        )
        if vocab_size is not None and vocab_size > model.get_input_embeddings().num_embeddings:
            model.resize_token_embeddings(vocab_size)
    model.train()  # from_pretrained returns eval mode
    return model


def pretrained_folder(model_name_or_path: str) -> Path:
    """The local folder of a pretrained model: the path itself, or the hub cache's copy of an id's config
    and safetensors weights, resolved by transformers exactly as ``from_pretrained`` resolves them (so
    ``HF_HUB_OFFLINE=1`` and the hub cache are honoured)."""
    path = Path(model_name_or_path)
    if path.is_dir():
        return path
    import json

    from transformers.utils import cached_file

    config = Path(cached_file(model_name_or_path, "config.json"))
    index = cached_file(model_name_or_path, "model.safetensors.index.json", _raise_exceptions_for_missing_entries=False)
    if index:
        for shard in sorted(set(json.loads(Path(index).read_text())["weight_map"].values())):
            cached_file(model_name_or_path, shard)
    else:
        cached_file(model_name_or_path, "model.safetensors")
    return config.parent


def meta_causal_lm(model_name_or_path: str, vocab_size: int | None = None, dtype: str = "float32") -> nn.Module:
    """A pretrained model's architecture (its ``config.json``) built on the meta device, in train mode.

    Raises:
        ValueError: the tokenizer has more tokens than the model has embedding rows (a sharded build
            cannot resize the embeddings; use the model's own tokenizer).
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model_name_or_path, trust_remote_code=False)
    rows = getattr(config, "vocab_size", None)
    if vocab_size is not None and rows is not None and vocab_size > rows:
        raise ValueError(
            f"the tokenizer has {vocab_size} tokens but {model_name_or_path} has {rows} embedding rows; a sharded "
            "(FSDP2) load cannot resize them: use the model's own tokenizer (data.tokenizer) or train on one device"
        )
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=False, dtype=resolve_dtype(dtype))
    model.train()
    return model


def apply_lora(
    model: nn.Module,
    r: int,
    alpha: int,
    dropout: float,
    target_modules: list[str] | str,
    quantized: bool,
    gradient_checkpointing: bool,
) -> nn.Module:
    """Wrap ``model`` with LoRA adapters (peft); only adapter weights stay trainable.

    Args:
        model: the causal LM (4-bit quantized for QLoRA).
        r: adapter rank.
        alpha: LoRA scaling numerator.
        dropout: dropout on the adapter input.
        target_modules: module names or ``"all-linear"``.
        quantized: the model was loaded in 4 bits (runs peft's k-bit preparation first).
        gradient_checkpointing: passed to the k-bit preparation.
    """
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    config = LoraConfig(
        task_type="CAUSAL_LM", r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules
    )
    return get_peft_model(model, config)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of (global, unsharded) parameters; DTensor shards count with their full shape."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
