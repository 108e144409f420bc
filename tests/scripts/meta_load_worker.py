"""Load pretrained folders the way an FSDP2 run does (meta device, shard, rank 0 scatters) and compare each with
``from_pretrained``; run under ``torchrun --nproc_per_node 2``. Writes ``OUT/rank<r>.json``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
from torch.distributed.device_mesh import init_device_mesh

from ivr.model.module import IndieValueReasoner
from ivr.model.sharding import checkpoint_key


def case(folder: str, lora: bool, dtype: str, mesh) -> dict:
    torch.manual_seed(0)
    module = IndieValueReasoner(model_name_or_path=folder, lora=lora, dtype=dtype, fsdp_param_dtype="bfloat16")
    module._device_mesh = mesh
    try:
        module.configure_model()
    except ValueError as err:
        return {"error": str(err)}
    model = module.model
    out = {
        "dtypes": sorted({str(p.dtype) for p in model.parameters()}),
        "local_rows": sum(p.to_local().shape[0] for p in model.parameters() if p.ndim == 2),
    }
    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    ids = torch.arange(3, 40)[None]
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()
    if dist.get_rank() == 0:
        from transformers import AutoModelForCausalLM

        ref = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        ref_sd = ref.state_dict()
        base = {k: v for k, v in full.items() if "lora_" not in k}
        out["mismatched"] = [
            k for k, v in base.items() if not torch.equal(v.float(), ref_sd[checkpoint_key(k)].float())
        ]
        out["n_weights"] = len(base)
        out["lora_B_zero"] = all(bool((v == 0).all()) for k, v in full.items() if "lora_B" in k)
        out["lora_A_std"] = [float(v.float().std()) for k, v in full.items() if "lora_A" in k][:1]
        rotary = {n: b for n, b in model.named_buffers() if n.endswith("inv_freq")}
        ref_rotary = {n: b for n, b in ref.named_buffers() if n.endswith("inv_freq")}
        out["rotary_equal"] = len(rotary) > 0 and all(
            torch.equal(rotary[n], ref_rotary[checkpoint_key(n)]) for n in rotary
        )
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            ref_logits = ref(input_ids=ids).logits.float()
        out["max_logit_diff"] = float((ref_logits - logits).abs().max())
        out["tied"] = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    return out


def main(out: Path, folders: list[str]) -> None:
    dist.init_process_group("gloo")
    mesh = init_device_mesh("cpu", (dist.get_world_size(),), mesh_dim_names=("data_parallel",))
    cases = {
        "plain": case(folders[0], False, "float32", mesh),
        "lora": case(folders[0], True, "bfloat16", mesh),
        "tied": case(folders[1], False, "float32", mesh),
        "broken": case(folders[2], False, "float32", mesh),
    }
    (out / f"rank{dist.get_rank()}.json").write_text(json.dumps(cases))
    dist.barrier()  # tear the group down together: a rank leaving while its peer still talks to it can abort
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
