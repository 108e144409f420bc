"""``python -m benchmarks.data``: data-path speed and packing efficiency, printed.

1. 200-demonstration training examples per second on one core: sampling + assembling cached ids
   vs sampling + rendering the Jinja template (through the chat template) + tokenizing, with a
   byte-level BPE tokenizer trained offline on the codebook; and the statement tokenizer path.
2. Tokens processed per scored probe: 39 probes packed after one prefix vs one probe per sequence
   (the study's evaluation layout), for the text layout and the statement layout.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from ivr.data.fixtures import random_catalog
from ivr.data.prompts import _load_template, format_statement, load_layout
from ivr.data.statement_tokenizer import make_statement_tokenizer
from ivr.data.tokenization import TokenCache, train_bpe_tokenizer
from ivr.protocol.examples import FORMS, PersonTable, Recipe, eval_example, train_example
from ivr.protocol.probes import probe_setups


def _rate(fn, n: int) -> tuple[float, float]:
    """Calls per CPU-second of ``fn(i)`` over ``n`` calls (after a warm-up pass).

    CPU time of this process (one thread) rather than wall time, so a busy shared machine does
    not deflate the figure; on an idle core the two agree.
    """
    for i in range(min(n, 200)):
        fn(i)
    t0, w0 = time.process_time(), time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.process_time() - t0), n / (time.perf_counter() - w0)


def run(people: int = 400, n: int = 2000, seed: int = 0) -> dict[str, float]:
    """Run the benchmark and return its figures."""
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    catalog = random_catalog(people, seed=seed)
    table, cb = PersonTable(catalog), catalog.codebook
    choice = load_layout("choice")
    bpe = train_bpe_tokenizer(cb, choice)
    text = TokenCache(bpe, cb, choice)
    stmt = TokenCache(make_statement_tokenizer(cb), cb, load_layout("statement"))
    template, _ = _load_template(choice.path, ("known_statements", "options"))
    recipe = Recipe(demo_count="200", probe_form="p+r")
    draws = np.random.default_rng(seed).integers(0, people, n)
    pairs = [(i % len(cb.questions), int(r)) for i, r in enumerate(draws) if table.valid[r, i % len(cb.questions)]]

    units = recipe.train_units  # p200_p1, p200_r1 (the data set assigns a unit to every item)

    def sample(i: int):
        q, r = pairs[i % len(pairs)]
        return train_example(table, recipe, seed, 0, q, r, units[i % len(units)])

    def cached(i: int) -> None:
        text.build(sample(i), 4096)

    def rendered(i: int) -> None:
        ex = sample(i)
        known = [
            format_statement(cb.questions[q].options(FORMS[ex.demo_form])[o].statement)
            for q, o in zip(ex.demo_questions.tolist(), ex.demo_options.tolist())
        ]
        q, form = int(ex.probe_questions[0]), int(ex.probe_forms[0])
        opts = [format_statement(cb.questions[q].options(FORMS[form])[o].statement) for o in ex.option_orders[0]]
        user = template.render(
            known_statements="\n".join(choice.statement_line.format(statement=s) for s in known),
            options="\n".join(choice.option_line.format(k=k + 1, statement=s) for k, s in enumerate(opts)),
        )
        full = bpe.apply_chat_template([{"role": "user", "content": user}], add_generation_prompt=True, tokenize=False)
        bpe(full + choice.answer_prefix, add_special_tokens=False)

    def statement(i: int) -> None:
        stmt.build(sample(i), 4096)

    figures: dict[str, float] = {}
    timed = (
        ("sample_only", sample, n),
        ("cached_text", cached, n),
        ("render_tokenize_text", rendered, max(200, n // 5)),
        ("cached_statement", statement, n),
    )
    for name, fn, count in timed:
        figures[f"{name}_per_s"], figures[f"{name}_wall_per_s"] = _rate(fn, count)
    figures["cached_speedup"] = figures["cached_text_per_s"] / figures["render_tokenize_text_per_s"]

    setups = probe_setups(cb)
    eligible = np.flatnonzero(table.valid[:, np.concatenate(setups)].all(1))[:20]
    for name, cache in (("text", text), ("statement", stmt)):
        for form in (0, 1):
            packed_tokens = single_tokens = probes = 0
            for r in eligible.tolist():
                for s, sp in enumerate(setups):
                    ex = eval_example(table, recipe, seed, r, s, sp, form)
                    built = cache.build(ex)
                    packed_tokens += len(built.prefix) + sum(len(b) for b in built.branches)
                    for q in sp.tolist():  # the study's layout: one sequence per probe (the same demonstrations)
                        one = cache.build(eval_example(table, recipe, seed, r, s, sp, form, probe=q))
                        single_tokens += len(one.prefix) + len(one.branches[0])
                    probes += len(sp)
            key = f"{name}_{FORMS[form]}"
            figures[f"{key}_tokens_per_probe_packed"] = packed_tokens / probes
            figures[f"{key}_tokens_per_probe_single"] = single_tokens / probes
            figures[f"{key}_packing_reduction"] = single_tokens / packed_tokens
        # both probe forms of (person, setup) after one prefix: 78 probes share it
        both = sum(
            len(b.prefix) + sum(len(x) for x in b.branches)
            for b in (
                cache.build(eval_example(table, recipe, seed, r, s, sp, -1))
                for r in eligible.tolist()
                for s, sp in enumerate(setups)
            )
        )
        single = sum(figures[f"{name}_{f}_tokens_per_probe_single"] for f in FORMS) / 2
        n_probes = 2 * sum(len(sp) for sp in setups) * len(eligible)
        figures[f"{name}_both_forms_tokens_per_probe_packed"] = both / n_probes
        figures[f"{name}_both_forms_packing_reduction"] = single / figures[f"{name}_both_forms_tokens_per_probe_packed"]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.data", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=400, help="size of the random catalog")
    parser.add_argument("-n", type=int, default=2000, help="examples per timed path")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    figures = run(args.people, args.n)
    print("rates: examples per CPU-second of this process (one thread); *_wall_per_s: wall clock, which a busy")
    print("shared machine lowers. Each training example = sampling 200 demonstrations + assembling token ids.")
    print(f"{'figure':45s} value")
    for key, value in figures.items():
        print(f"{key:45s} {value:10.1f}")
    ok_speed = figures["cached_text_per_s"] >= 2000 and figures["cached_speedup"] >= 10
    print(f"target cached >= 2000/s and >= 10x render-then-tokenize: {'met' if ok_speed else 'NOT met'}")
    for key in ("text_polar", "text_refined", "text_both_forms", "statement_polar", "statement_both_forms"):
        value = figures[f"{key}_packing_reduction"]
        print(f"target >= 20x fewer tokens per probe, {key}: {value:.1f}x {'met' if value >= 20 else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
