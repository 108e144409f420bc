"""The rehearsed 8B path's export, served by vLLM: a torchrun checkpoint of ``configs/llama31_8b_fsdp.yaml`` on the
tiny Llama-3.1 folder -> ``export_hf`` -> vLLM generates, greedily, what transformers generates.

Runs in the vLLM stage of ``.ci/run`` (its own environment, ``IVR_REQUIRE_VLLM=1``); skipped where vLLM is
not importable.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_llama31_torchrun import CONFIG, cpu_overrides, env  # noqa: E402
from vllm_env import VLLM_MARKS  # noqa: E402

pytestmark = VLLM_MARKS


def test_exported_torchrun_checkpoint_generates_in_vllm_as_in_transformers(
    tiny_llama31_dir, small_catalog_dir, tmp_path, monkeypatch
):
    from ivr.model.export import export_hf
    from ivr.zero_shot.backends import BackendOptions, encode_prompt, make_generator

    for var in ("VLLM_CACHE_ROOT", "TORCHINDUCTOR_CACHE_DIR"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "ivr.fit",
            "--config",
            str(CONFIG),
            *cpu_overrides(tiny_llama31_dir, small_catalog_dir, out),
            "--trainer.max_steps",
            "2",
            "--trainer.limit_val_batches",
            "0",
            "--evaluate",
            "false",
        ],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-5000:]
    ckpt = out / "ck" / "last.ckpt"
    assert (ckpt / ".metadata").is_file()
    exported = export_hf(ckpt, tmp_path / "hf", tokenizer_dir=tiny_llama31_dir)

    hf = make_generator("hf", str(exported), BackendOptions(dtype="float32", batch_size=2))
    prompts = [
        encode_prompt(hf.tokenizer, text)
        for text in (
            "Below is what one person has said about their values.\n# Family is very important in my life\n"
            "Which of these would they most likely agree with?\nOption 1: I trust people\nOption 2: I do not trust people",
            "Name one value.",
        )
    ]
    assert prompts[0][:4] == hf.tokenizer.convert_tokens_to_ids(
        ["<|begin_of_text|>", "<|start_header_id|>", "system", "<|end_header_id|>"]
    )  # the Llama-3.1 chat format
    expected = hf.generate(prompts, max_new_tokens=12)
    vl = make_generator(
        "vllm",
        str(exported),
        BackendOptions(dtype="float32", enforce_eager=True, max_model_len=1024, gpu_memory_utilization=0.1),
    )
    assert vl.generate(prompts, max_new_tokens=12) == expected
    assert all(len(text) > 0 for text in expected)
