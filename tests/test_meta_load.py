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
    assert checkpoint_key("base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight") == \
        "model.layers.0.self_attn.q_proj.weight"
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        SafetensorsFolder(ROOT / "configs")


@pytest.mark.slow
def test_two_ranks_load_shards_equal_to_from_pretrained(tiny_llama31_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    from ivr.model.llama3 import build_tiny_llama31

    tied = build_tiny_llama31(tmp_path / "tied", tiny_llama31_dir, seed=1, tie_word_embeddings=True)
    broken = tmp_path / "broken"
    shutil.copytree(tiny_llama31_dir, broken)
    weights = load_file(str(broken / "model.safetensors"))
    del weights["model.layers.1.mlp.up_proj.weight"]
    save_file(weights, str(broken / "model.safetensors"), metadata={"format": "pt"})
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(WORKER), str(tmp_path), str(tiny_llama31_dir), str(tied), str(broken)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
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
