"""Full-option log-likelihood cost: one shared-prefix pass per probe vs one plain sequence per option.

    python -m benchmarks.loglik [--probes 20] [--demos 200] [--packed] [--threads 1]

Builds (once, under ``--workdir``) the tiny Llama-3.1 folder with the real Llama-3 tokenizer
(:func:`ivr.model.llama3.build_tiny_llama31`) and a synthetic catalog, and takes the first evaluation
items of ``score_layout: option_text`` with the ``choice`` layout (200 demonstrations, the study's
one probe per sequence; ``--packed``: all probes of a setup after one prefix). For each item it times

* **shared prefix**: the reasoner's own evaluation forward of the item under ``loglik_sum`` (the prefix
  once into a KV cache, then the probe and one sub-branch per option on top of it; vocabulary projection
  at the continuation positions only),
* **one tree pass**: the training path (the whole item as one sequence under the block mask), and
* **per option**: every option of every probe as its own plain sequence (prefix + probe + that option)
  through the Hugging Face model, with ``logits_to_keep`` limited to the continuation positions,

and prints tokens per probe, forward time per probe (process CPU seconds, and wall seconds) and their
ratios from the same run, plus the largest score difference between the two (they compute the same thing).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch


def tiny_folder(workdir: Path) -> Path:
    """The tiny Llama-3.1 folder (built once)."""
    from ivr.model.llama3 import build_llama3_tokenizer, build_tiny_llama31

    folder = workdir / "tiny_llama31"
    if not (folder / "config.json").is_file():
        build_tiny_llama31(folder, build_llama3_tokenizer(workdir / "llama3_tokenizer"), dtype="float32")
    return folder


def per_option_scores(model: Any, built: Any) -> torch.Tensor:
    """loglik_sum of every (probe, option) from one plain sequence per option, [K, O] (-inf padding)."""
    k_max = len(built.branches)
    o_max = max(len(c) for c in built.option_conts)
    out = torch.full((k_max, o_max), float("-inf"))
    for k in range(k_max):
        head = built.ids(k)
        for o, cont in enumerate(built.option_conts[k]):
            ids = torch.tensor([head + cont])
            logits = model(input_ids=ids, logits_to_keep=len(cont) + 1).logits[0, :-1].float()
            out[k, o] = torch.log_softmax(logits, -1).gather(1, torch.tensor(cont)[:, None]).sum()
    return out


def timed(fn: Any) -> tuple[Any, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loglik", description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path(".ivr_cache") / "bench_loglik")
    parser.add_argument("--probes", type=int, default=20, help="evaluation items (sequences) to time")
    parser.add_argument("--demos", type=str, default="200", help="demonstrations per evaluation example")
    parser.add_argument("--packed", action="store_true", help="all probes of a setup after one prefix")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (CPU time is per process)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from ivr.data.fixtures import tiny_datamodule
    from ivr.model.module import IndieValueReasoner

    folder = tiny_folder(args.workdir)
    dm = tiny_datamodule(
        args.workdir,
        people=300,
        tokenizer=str(folder),
        layout="choice",
        score_layout="option_text",
        eval_packed=args.packed,
        eval_demo_count=args.demos,
        limit_eval_people=2,
        eval_batch_size=1,
        max_seq_length=16384,
        check_tokenization=False,
    )
    dm.setup("test")
    m = IndieValueReasoner(model_name_or_path=str(folder), vocab_size=len(dm.tokenizer), score="loglik_sum")
    m.configure_model()
    m.eval()
    loader = iter(dm.test_dataloader())
    names = ("shared", "tree", "plain")
    tot: dict[str, float] = {"probes": 0, "max_diff": 0.0}
    tot.update({f"{n}_{k}": 0 for n in names for k in ("tokens", "cpu", "wall")})
    with torch.no_grad():
        m(next(iter(dm.test_dataloader())))  # warm-up
        for i in range(min(args.probes, len(dm._test))):
            batch = next(loader)
            built = dm.cache.build(dm._test.example(i), dm.hparams.max_seq_length, continuations=True)
            tree_batch = {key: v for key, v in batch.items() if key != "prefix_lengths"}  # no cache: one pass
            runs = {
                "shared": timed(lambda: m(batch).scores[0]),
                "tree": timed(lambda: m(tree_batch).scores[0]),
                "plain": timed(lambda: per_option_scores(m.model, built)),
            }
            plain = runs["plain"][0]
            real = torch.isfinite(plain)
            k, o = plain.shape
            for name in ("shared", "tree"):
                diff = float((runs[name][0][:k, :o][real] - plain[real]).abs().max())
                tot["max_diff"] = max(tot["max_diff"], diff)
            tot["probes"] += k
            tot["shared_tokens"] += int(batch["input_ids"].shape[1])
            tot["tree_tokens"] += int(batch["input_ids"].shape[1])
            tot["plain_tokens"] += sum(
                len(built.ids(j)) * len(c) + sum(map(len, c)) for j, c in enumerate(built.option_conts)
            )
            for name, (_, cpu, wall) in runs.items():
                tot[f"{name}_cpu"] += cpu
                tot[f"{name}_wall"] += wall
    n = tot["probes"]
    print(
        f"tiny Llama-3.1 folder ({folder}), real Llama-3 tokenizer, choice layout, {args.demos} demonstrations, "
        f"{'packed' if args.packed else 'one probe per sequence'}, {n} probes, torch threads {args.threads}"
    )
    print(f"{'':22} {'tokens/probe':>13} {'CPU s/probe':>12} {'wall s/probe':>13}")
    for name, key in (("shared prefix (cache)", "shared"), ("one tree pass", "tree"), ("one seq per option", "plain")):
        print(
            f"{name:22} {tot[key + '_tokens'] / n:13.0f} {tot[key + '_cpu'] / n:12.4f} {tot[key + '_wall'] / n:13.4f}"
        )
    ratios = {}
    for name in ("shared", "tree"):
        r = {k: tot[f"plain_{k}"] / max(tot[f"{name}_{k}"], 1e-12) for k in ("tokens", "cpu", "wall")}
        ratios.update({f"{name}_{k}": v for k, v in r.items()})
        print(f"{'per option / ' + name:22} {r['tokens']:13.2f} {r['cpu']:12.2f} {r['wall']:13.2f}")
    print(f"largest |score difference| from the per-option sequences: {tot['max_diff']:.2e}")
    return {**tot, **{f"ratio_{k}": v for k, v in ratios.items()}}


if __name__ == "__main__":
    main()
