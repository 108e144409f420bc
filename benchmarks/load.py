"""Peak host RAM per rank when an FSDP2 run loads a pretrained model: the CPU rehearsal of the 8B load.

    python -m benchmarks.load [--ranks 2 4] [--dtypes float32 bfloat16] [--naive]

Builds (once, under ``--workdir``) a randomly initialised Llama-3.1-shaped model saved in bf16 with
``save_pretrained`` (default about 1.2 GB: width 2048, 8 layers, vocabulary 32,768, so its largest
tensor is ~11% of it, as the embedding is ~7% of the 8B), then, for each rank count and storage dtype,
launches ``torchrun --standalone --nproc_per_node R`` workers that load it exactly as ``ivr.fit`` does
(``IndieValueReasoner.configure_model`` under a data-parallel mesh: meta-device build, ``fully_shard``,
rank 0 reads and scatters the weights). Each worker reports its resident memory after start-up (torch,
transformers and the process group loaded: the baseline) and its peak (``VmHWM``; ``ru_maxrss`` agrees).
The table gives the peak as a multiple of the model's bf16 size, raw and net of the baseline. On CPU the
shards themselves live in host RAM (fp32 master weights: 2/R of the bf16 size per rank); on a GPU node
they go to the GPUs. ``--naive`` adds the old way (every rank ``from_pretrained`` in fp32, then shards).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

GB = 1024**3


def status_kb(field: str) -> int:
    """A ``/proc/self/status`` field in kB (``VmRSS``, ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def build_model(folder: Path, hidden: int, layers: int, vocab: int) -> int:
    """Write the rehearsal model once; returns the bytes of its weights (bf16)."""
    from ivr.model.llama3 import build_tiny_llama31

    if not (folder / "config.json").is_file():
        print(f"[bench_load] building the rehearsal model in {folder} ...", file=sys.stderr, flush=True)
        build_tiny_llama31(
            folder,
            tokenizer_dir=None,
            seed=0,
            dtype="bfloat16",
            hidden_size=hidden,
            intermediate_size=4 * hidden,
            num_hidden_layers=layers,
            num_attention_heads=hidden // 128,
            num_key_value_heads=max(1, hidden // 512),
            head_dim=128,
            vocab_size=vocab,
            bos_token_id=1,
            eos_token_id=2,
        )
    return sum(p.stat().st_size for p in folder.glob("*.safetensors"))


def worker(folder: str, dtype: str, method: str, out: str) -> None:
    import torch
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    from ivr.model.module import IndieValueReasoner

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    mesh = init_device_mesh("cpu", (world,), mesh_dim_names=("data_parallel",))
    dist.barrier()
    base = status_kb("VmRSS")
    torch.manual_seed(0)
    if method == "meta":
        module = IndieValueReasoner(model_name_or_path=folder, dtype=dtype, fsdp_param_dtype="bfloat16")
        module._device_mesh = mesh
        module.configure_model()
        model = module.model
    else:  # the previous behaviour: a full copy per rank, then shard
        from ivr.model.build import build_causal_lm
        from ivr.model.sharding import shard_model

        model = shard_model(
            build_causal_lm(folder, None, dtype=dtype), mesh["data_parallel"], param_dtype=torch.bfloat16
        )
    dist.barrier()
    shard = sum(p.to_local().numel() * p.element_size() for p in model.parameters())
    row = {
        "rank": rank,
        "world": world,
        "dtype": dtype,
        "method": method,
        "baseline_kb": base,
        "peak_kb": status_kb("VmHWM"),
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "shard_bytes": shard,
    }
    rows: list[Any] = [None] * world
    dist.all_gather_object(rows, row)
    if rank == 0:
        with open(out, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    dist.destroy_process_group()


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default=".ivr_cache/bench_load")
    parser.add_argument("--ranks", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument(
        "--naive", action="store_true", help="also measure every rank loading a full fp32 copy (2 ranks)"
    )
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=32768)
    parser.add_argument("--worker", nargs=4, metavar=("FOLDER", "DTYPE", "METHOD", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return []
    work = Path(args.workdir)
    folder = work / f"llama31_h{args.hidden}_l{args.layers}_v{args.vocab}"
    size = build_model(folder, args.hidden, args.layers, args.vocab)
    out = work / "rows.jsonl"
    out.unlink(missing_ok=True)
    runs = [(r, d, "meta") for r in args.ranks for d in args.dtypes]
    if args.naive:
        runs.append((2, "float32", "naive"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for ranks, dtype, method in runs:
        print(f"[bench_load] {method} load, {ranks} ranks, {dtype} shards ...", file=sys.stderr, flush=True)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                "--nproc_per_node",
                str(ranks),
                "-m",
                "benchmarks.load",
                "--worker",
                str(folder),
                dtype,
                method,
                str(out),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            print(f"[bench_load] FAILED ({proc.returncode}): {proc.stderr[-1500:]}", file=sys.stderr, flush=True)
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.is_file() else []
    print(
        f"\nmodel: {folder.name}, bf16 weights {size / GB:.2f} GiB; peaks per rank as multiples of that size "
        "(net = minus the start-up baseline; overhead = net minus the rank's own shard, which a GPU run keeps "
        "on the GPU)"
    )
    print(
        f"{'method':7} {'ranks':>5} {'shards':>9} {'rank':>4} {'baseline GiB':>12} {'peak GiB':>9} "
        f"{'peak':>6} {'net':>6} {'overhead':>8}"
    )
    for r in rows:
        peak, base = r["peak_kb"] * 1024, r["baseline_kb"] * 1024
        r.update(
            model_bytes=size,
            peak_multiple=peak / size,
            net_multiple=(peak - base) / size,
            overhead_multiple=(peak - base - r["shard_bytes"]) / size,
        )
        print(
            f"{r['method']:7} {r['world']:>5} {r['dtype']:>9} {r['rank']:>4} {base / GB:12.2f} {peak / GB:9.2f} "
            f"{r['peak_multiple']:6.2f} {r['net_multiple']:6.2f} {r['overhead_multiple']:8.2f}"
        )
    return rows


if __name__ == "__main__":
    main()
