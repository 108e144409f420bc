"""Pretrained weights loaded straight into FSDP2 shards (meta-device build) equal ``from_pretrained``'s."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ivr.model.sharding import SafetensorsFolder, checkpoint_key

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "scripts" / "meta_load_worker.py"


def test_safetensors_reader_matches_safetensors(tiny_llama31_dir):
    from safetensors.torch import load_file

    reader, ref = SafetensorsFolder(tiny_llama31_dir), load_file(str(tiny_llama31_dir / "model.safetensors"))
    assert set(reader.entries) == set(ref)
    for key in ("model.embed_tokens.weight", "model.layers.1.mlp.down_proj.weight", "model.norm.weight"):
        assert torch.equal(reader.read(key), ref[key]) and reader.dtype(key) == torch.bfloat16
    assert (
        checkpoint_key("base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight")
        == "model.layers.0.self_attn.q_proj.weight"
    )
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        SafetensorsFolder(ROOT / "configs")


# every rope type transformers ships that a Llama config accepts, sized for the tiny head (32 dims: 16 frequencies)
ROPES = {
    "default": {"rope_type": "default"},
    "linear": {"rope_type": "linear", "factor": 4.0},
    "dynamic": {"rope_type": "dynamic", "factor": 4.0},
    "yarn": {"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": 8192},
    "longrope": {
        "rope_type": "longrope",
        "original_max_position_embeddings": 8192,
        "short_factor": [1.0 + i / 16 for i in range(16)],
        "long_factor": [1.0 + i / 4 for i in range(16)],
    },
    "llama3": {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    },
    "proportional": {"rope_type": "proportional", "partial_rotary_factor": 0.5},
}


def write_legacy_config(folder: Path) -> None:
    """Rewrite ``config.json`` the way transformers 4 saved it (hub folders such as Llama-3-8B): ``rope_theta`` at
    the top and ``rope_scaling`` null for the default rope, else the scaling fields."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    rope = dict(config.pop("rope_parameters"))
    config["rope_theta"] = rope.pop("rope_theta")
    config["rope_scaling"] = None if rope["rope_type"] == "default" else rope
    path.write_text(json.dumps(config))


@pytest.mark.parametrize("legacy", [True, False], ids=["hub-config", "v5-config"])
@pytest.mark.parametrize("rope", list(ROPES))
def test_meta_load_rotary_equals_from_pretrained(rope, legacy, tmp_path):
    """A meta-device build filled by load_pretrained_into_shards (one process: no sharding, the same loader)
    has from_pretrained's rotary buffers, attention scaling and logits, for each rope type."""
    from transformers import AutoModelForCausalLM

    from ivr.model.build import meta_causal_lm
    from ivr.model.llama3 import build_tiny_llama31
    from ivr.model.sharding import load_pretrained_into_shards

    folder = build_tiny_llama31(
        tmp_path / rope,
        with_tokenizer=False,
        dtype="float32",
        vocab_size=256,
        bos_token_id=1,
        eos_token_id=2,
        rope_parameters={**ROPES[rope], "rope_theta": 500000.0},
    )
    if legacy:
        write_legacy_config(folder)
    ref = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    model = meta_causal_lm(str(folder))
    load_pretrained_into_shards(model, folder, torch.device("cpu"))
    rotary, ref_rotary = model.model.rotary_emb, ref.model.rotary_emb
    assert rotary.rope_type == ref_rotary.rope_type == rope
    for buf in ("inv_freq", "original_inv_freq"):
        assert torch.equal(getattr(rotary, buf), getattr(ref_rotary, buf)), buf
    assert rotary.attention_scaling == ref_rotary.attention_scaling
    ids = torch.arange(3, 200)[None]
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, ref(input_ids=ids).logits, atol=1e-5, rtol=0)


@pytest.mark.slow
def test_two_ranks_load_shards_equal_to_from_pretrained(tiny_llama31_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    from ivr.model.llama3 import build_tiny_llama31

    # the tied folder also has a Llama-3.0-style config.json (default rope, rope_scaling null), as Llama-3-8B ships
    tied = build_tiny_llama31(
        tmp_path / "tied",
        tiny_llama31_dir,
        seed=1,
        tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
    )
    write_legacy_config(tied)
    broken = tmp_path / "broken"
    shutil.copytree(tiny_llama31_dir, broken)
    weights = load_file(str(broken / "model.safetensors"))
    del weights["model.layers.1.mlp.up_proj.weight"]
    save_file(weights, str(broken / "model.safetensors"), metadata={"format": "pt"})
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(WORKER),
            str(tmp_path),
            str(tiny_llama31_dir),
            str(tied),
            str(broken),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    for name in ("plain", "lora", "tied"):
        res = r0[name]
        assert res["mismatched"] == [] and res["n_weights"] > 0 and res["rotary_equal"], name
        assert res["max_logit_diff"] < 0.05, name  # both computed with bf16 matmuls
        assert r0[name]["local_rows"] == r1[name]["local_rows"]  # each rank holds half the rows, not a full copy
    assert r0["plain"]["dtypes"] == ["torch.float32"]
    assert r0["lora"]["dtypes"] == ["torch.bfloat16", "torch.float32"]  # frozen base bf16, adapters fp32
    assert r0["lora"]["lora_B_zero"] and 0.01 < r0["lora"]["lora_A_std"][0] < 0.2
    assert r0["tied"]["tied"] and not r0["plain"]["tied"]
    for rank in (r0, r1):  # a missing weight is reported on every rank (none hangs)
        assert "model.layers.1.mlp.up_proj.weight: missing from the checkpoint" in rank["broken"]["error"]
