"""FSDP2: the strategy rule, the 8B config's wrapping on the meta device, and 2 CPU processes (gloo) == 1."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ivr.model.llama3 import LLAMA31_8B  # Llama-3.1-8B's published architecture (no download)
from ivr.model.strategy import choose_strategy, count_devices

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_fit_cli import build_catalog, fit_args, load_predictions, run  # noqa: E402


def test_strategy_rule():
    from lightning.pytorch.strategies import ModelParallelStrategy

    assert choose_strategy("auto", 1, 1, "cpu") == "auto"
    fsdp = choose_strategy("auto", 8, 1, "gpu")
    assert isinstance(fsdp, ModelParallelStrategy)
    assert (fsdp._data_parallel_size, fsdp._tensor_parallel_size) == (8, 1)
    assert choose_strategy("fsdp", 4, 2, "gpu")._data_parallel_size == 8  # multi-node: world = 8
    assert choose_strategy("ddp", 2, 1, "cpu") == "ddp"
    assert choose_strategy(fsdp, 1, 1, "cpu") is fsdp
    assert count_devices([0, 1, 2]) == 3 and count_devices("2") == 2 and count_devices("auto", "cpu") == 1
    with pytest.raises(ValueError, match="trainer.devices"):
        count_devices("many")


def test_8b_config_builds_on_meta_with_fsdp_per_layer():
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import FSDPModule

    from ivr.model.module import IndieValueReasoner

    hp = yaml.safe_load((ROOT / "configs" / "llama31_8b_fsdp.yaml").read_text())["model"]
    assert hp.pop("model_name_or_path") == "meta-llama/Meta-Llama-3.1-8B-Instruct"
    arch = dict(LLAMA31_8B)
    vocab = arch.pop("vocab_size")
    store = dist.HashStore()
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        module = IndieValueReasoner(model_config=arch, vocab_size=vocab, **hp)
        module._device_mesh = init_device_mesh("cpu", (1,), mesh_dim_names=("data_parallel",))
        with torch.device("meta"):
            module.configure_model()
        model = module.model
        n = sum(p.numel() for p in model.parameters())
        assert 8.0e9 <= n <= 8.1e9, n  # 8,030,261,248
        assert isinstance(model, FSDPModule)
        layers = [m for m in model.modules() if type(m).__name__.endswith("LlamaDecoderLayer")]
        assert len(layers) == 32 and all(isinstance(m, FSDPModule) for m in layers)
        assert all(type(p).__name__ == "DTensor" for p in model.parameters())
        assert model.is_gradient_checkpointing
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_fsdp2_two_gloo_processes_train_checkpoint_resume_like_one(tmp_path):
    catalog = build_catalog(tmp_path)
    one = tmp_path / "one"
    run(fit_args(catalog, one, steps=8, extra=("--baselines", "false")))
    two = tmp_path / "two"
    two_proc = ("--trainer.devices", "2", "--data.batch_size", "2", "--baselines", "false")  # same global batch 4
    run(fit_args(catalog, two, steps=4, extra=two_proc))
    last = two / "ck" / "last.ckpt"
    assert last.is_dir() and (last / ".metadata").is_file()  # a distributed (sharded) checkpoint
    run([*fit_args(catalog, two, steps=8, extra=two_proc), "--ckpt_path", "last"])
    a, b = load_predictions(one), load_predictions(two)
    assert np.array_equal(a.person, b.person) and np.array_equal(a.question, b.question)
    np.testing.assert_allclose(a.probs, b.probs, atol=2e-4)
    # the consolidated sharded checkpoint exports to a transformers folder
    from transformers import AutoModelForCausalLM

    from ivr.model.export import export_hf

    out = export_hf(last, tmp_path / "hf")
    hf = AutoModelForCausalLM.from_pretrained(out, trust_remote_code=False)
    assert hf.config.hidden_size == json.loads((out / "config.json").read_text())["hidden_size"] == 32
