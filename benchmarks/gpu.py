"""Training throughput of a Llama-3.1-8B-shaped reasoner on one GPU, both sequence layouts, in one command.

    python -m benchmarks.gpu                 # on a GPU node (random init, no download)
    python -m benchmarks.gpu --tiny          # the same code path on the CPU with a tiny model

Builds the choice-scoring ``IndieValueReasoner`` around a randomly initialised model of Llama-3.1-8B's
architecture (:data:`ivr.model.llama3.LLAMA31_8B`) in bf16 with activation checkpointing, and real
training batches of ``configs/llama31_8b_fsdp.yaml`` (synthetic catalog, the real Llama-3.1 tokenizer
and chat template) in two layouts: the study's one probe per sequence and ``--packed`` probes after one
prefix. For each it times ``--steps`` optimiser steps (forward, backward, AdamW) after ``--warmup`` and
prints tokens/s, labels/s, MFU and peak memory. Full fine-tuning is tried first; when it runs out of
memory (8B weights, gradients and AdamW states do not fit one 80 GB GPU) the row is marked and LoRA
(r 16, all linear layers) is measured instead.

MFU = model FLOPs per second / the GPU's dense bf16 peak (``--peak-tflops``; H100/H200 SXM: 989).
Model FLOPs per token: 6 N + 12 L d T for full fine-tuning (N parameters, L layers, width d, T tokens
per sequence), 4 N + 12 L d T for LoRA (no weight gradients of the frozen base); the recomputation of
activation checkpointing is not counted (the usual convention).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0}


def peak_tflops(device: torch.device, given: float | None) -> float | None:
    if given:
        return given
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_TFLOPS.items() if k in name), None)


def batches(
    tokenizer: str, probes: int, n: int, catalog: str, cache_dir: str | None, split_size: int = 200
) -> list[dict[str, Any]]:
    """``n`` training batches of the 8B config's data recipe with ``probes`` per sequence."""
    from pathlib import Path

    import yaml

    from ivr.data.datamodule import IVRDataModule
    from ivr.model.plan import CONFIGS

    data = yaml.safe_load((CONFIGS / "llama31_8b_fsdp.yaml").read_text())["data"]
    data.update(
        tokenizer=tokenizer,
        catalog=catalog,
        split_size=split_size,
        probes_per_sequence=probes,
        check_tokenization=False,
        **({"cache_dir": str(Path(cache_dir))} if cache_dir else {}),
    )
    dm = IVRDataModule(**data)
    dm.setup("fit")
    loader = iter(dm.train_dataloader())
    return [next(loader) for _ in range(n)]


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {
        k: (to_device(v, device) if isinstance(v, dict) else v.to(device) if torch.is_tensor(v) else v)
        for k, v in batch.items()
    }


def measure(
    module: Any, data: list[dict[str, Any]], device: torch.device, warmup: int, lora: bool, peak: float | None
) -> dict[str, Any]:
    """Time optimiser steps on ``data`` (the first ``warmup`` are not timed)."""
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)
    cfg = module.model.config
    n_params = sum(p.numel() for p in module.model.parameters())
    tokens = labels = 0
    flops = 0.0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for i, batch in enumerate(data):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start, tokens, labels, flops = time.perf_counter(), 0, 0, 0.0
        batch = to_device(batch, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out = module(batch)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        mask = batch["attention_mask"]
        t = int(mask.sum()) if mask.dim() == 2 else int(batch["input_ids"].numel())  # batch 1: no padding
        seq = int(batch["input_ids"].shape[1])
        tokens += t
        labels += out.n_labelled
        flops += t * ((4 if lora else 6) * n_params + 12 * cfg.num_hidden_layers * cfg.hidden_size * seq)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return {
        "tokens_per_s": tokens / seconds,
        "labels_per_s": labels / seconds,
        "seconds": seconds,
        "mfu": flops / seconds / (peak * 1e12) if peak else None,
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
    }


def build(arch: dict[str, Any], lora: bool, device: torch.device, dtype: str) -> Any:
    from ivr.model.module import IndieValueReasoner

    vocab = arch["vocab_size"]
    config = {k: v for k, v in arch.items() if k != "vocab_size"}
    module = IndieValueReasoner(
        model_config=config, vocab_size=vocab, dtype=dtype, activation_checkpointing=True, lora=lora
    )
    with torch.device(device):
        module.configure_model()
    return module.to(device).train()


def run_case(
    arch: dict[str, Any], data: list, device: torch.device, warmup: int, dtype: str, peak: float | None
) -> dict[str, Any]:
    """Full fine-tuning, or LoRA when it does not fit."""
    note = ""
    for lora in (False, True):
        module = None
        try:
            module = build(arch, lora, device, dtype)
            row = measure(module, data, device, warmup, lora, peak)
            return {"mode": "LoRA" if lora else "full", "note": note, **row}
        except torch.OutOfMemoryError:
            note = "full fine-tuning ran out of memory"
        finally:
            del module
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return {"mode": "none", "note": "LoRA ran out of memory too"}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a tiny Llama-3.1-shaped model on the CPU (smoke run)")
    parser.add_argument("--steps", type=int, default=10, help="timed optimiser steps per layout")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--packed", type=int, default=12, help="probes per packed sequence")
    parser.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak of the GPU")
    parser.add_argument("--catalog", default="synthetic:people=6000,seed=0")
    parser.add_argument("--split-size", type=int, default=200, help="evaluation people held out of training")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    from pathlib import Path

    from ivr.catalog.resolve import default_cache_dir
    from ivr.model.llama3 import LLAMA31_8B, build_llama3_tokenizer, tiny_llama31_config

    if args.tiny:
        device, arch, dtype = torch.device("cpu"), tiny_llama31_config(), "float32"
    else:
        if not torch.cuda.is_available():
            raise SystemExit("error: no CUDA device; run with --tiny for the CPU smoke run")
        device, arch, dtype = torch.device("cuda"), dict(LLAMA31_8B), "bfloat16"
    folder = Path(args.cache_dir or default_cache_dir()) / "llama31_tokenizer"
    if not (folder / "tokenizer.json").is_file():
        build_llama3_tokenizer(folder)
    peak = peak_tflops(device, args.peak_tflops)
    rows = []
    for name, probes in (("one probe per sequence", 1), (f"packed, {args.packed} probes", args.packed)):
        data = batches(str(folder), probes, args.warmup + args.steps, args.catalog, args.cache_dir, args.split_size)
        print(f"[bench_gpu] {name}: {args.warmup} + {args.steps} steps ...", flush=True)
        rows.append({"layout": name, **run_case(arch, data, device, args.warmup, dtype, peak)})
    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(
        f"\n{'tiny Llama-3.1' if args.tiny else 'Llama-3.1-8B-shaped'} model on {dev}, batch 1 x 4,096-token budget, "
        f"bf16 autocast{'' if device.type == 'cuda' else ' off'}, activation checkpointing"
    )
    print(f"{'layout':26} {'mode':5} {'tokens/s':>10} {'labels/s':>9} {'MFU':>6} {'peak GiB':>9}  note")
    for r in rows:
        mfu = f"{100 * r['mfu']:5.1f}%" if r.get("mfu") is not None else "   n/a"
        mem = f"{r['peak_memory_gib']:9.1f}" if r.get("peak_memory_gib") is not None else "      n/a"
        print(
            f"{r['layout']:26} {r['mode']:5} {r.get('tokens_per_s', 0):10.0f} {r.get('labels_per_s', 0):9.2f} "
            f"{mfu} {mem}  {r['note']}"
        )
    return rows


if __name__ == "__main__":
    main()
