"""Speed benchmark: every Table-3 baseline, the study's algorithm vs ours, on one catalog.

``python -m benchmarks.baselines --people 93279`` builds (or reuses) a WVS-shaped catalog, picks 800
evaluation people, and times both implementations of all baselines (Random, Global majority and
Resemble for 2 forms x 3 setups x 2 pools x N = 1..35; scoring excluded from both timings). It
prints both times, the speed-up (target >= 20x) and the largest accuracy difference over every
(pool, N, setup, form), which must stay within 0.3 points (neighbour ties are broken differently).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

from baselines.majority import majority_table
from baselines.published import published_majority, published_random, published_resemble
from baselines.random import expected_accuracy, random_draw
from baselines.resemble import pack_forms, resemble_votes, sample_pool
from baselines.run import choose_split
from ivr.catalog.codebook import FORMS, load_codebook
from ivr.catalog.store import Catalog, load_catalog
from ivr.metrics import Predictions, accuracy_table, person_scores, table3_row
from ivr.protocol.probes import probe_setups

TOLERANCE = 0.3  # accuracy points
TARGET_SPEEDUP = 20.0


def random_catalog(n_people: int, seed: int) -> Catalog:
    """A WVS-shaped catalog of correlated random answers (when no synthetic generator exists)."""
    cb = load_codebook("wvs7")
    rng = np.random.default_rng([seed, 99])
    n_ref = np.asarray(cb.n_options("refined"))
    latent = rng.normal(size=(n_people, 4)) @ rng.normal(size=(4, len(n_ref)))  # shared traits
    frac = 1 / (1 + np.exp(-(latent + rng.normal(size=latent.shape))))
    refined = np.minimum((frac * n_ref).astype(np.int8), (n_ref - 1).astype(np.int8))
    refined[rng.random(refined.shape) < 0.05] = -1
    polar = np.full_like(refined, -1)
    for q, question in enumerate(cb.questions):
        ref_to_pol = {
            i: next(j for j, o in enumerate(question.polar) if set(opt.codes) & set(o.codes))
            for i, opt in enumerate(question.refined)
        }
        table = np.array([ref_to_pol[i] for i in range(len(question.refined))], dtype=np.int8)
        ok = refined[:, q] >= 0
        polar[ok, q] = table[refined[ok, q]]
    demos = np.full((n_people, len(cb.demographic_columns)), -1, dtype=np.int32)
    return Catalog(cb, np.arange(n_people, dtype=np.int64), polar, refined, demos)


def build_catalog(n_people: int, seed: int) -> tuple[Catalog, str]:
    """The benchmark catalog: cached synthetic one, else in-memory synthetic, else random."""
    try:
        from ivr.catalog.resolve import resolve_catalog

        return load_catalog(resolve_catalog(f"synthetic:people={n_people},seed={seed}")), "resolve_catalog"
    except ImportError:
        pass
    try:
        from ivr.catalog.synth import synthesize

        return synthesize(n_people, seed=seed)[0], "synthesize"
    except ImportError:
        return random_catalog(n_people, seed), "random"


def set_threads(n: int) -> None:
    """Use ``n`` CPU threads in torch (the published matmul/argsort); ours gets ``n`` via run_ours."""
    import torch

    torch.set_num_threads(n)


def table_rows(preds: Predictions, setups: list[int]) -> dict[str, Any]:
    return table3_row(accuracy_table(person_scores(preds.canonical())), setups)


def run_ours(
    catalog: Catalog,
    rows: np.ndarray,
    train: np.ndarray,
    setups: dict[int, np.ndarray],
    pools: dict[str, np.ndarray],
    max_n: int,
    seed: int,
    threads: int | None = None,
) -> dict[str, Any]:
    """All baselines with this package; returns raw predictions."""
    out: dict[str, Any] = {
        "random": expected_accuracy(catalog, rows, setups),
        "draw": random_draw(catalog, rows, setups, seed),
    }
    probed = np.concatenate(list(setups.values()))
    table = {f: majority_table(catalog, train, f, probed) for f in FORMS}
    out["majority"] = {(s, f): table[f][p] for f in FORMS for s, p in setups.items()}
    packed = pack_forms(catalog, setups)
    out["votes"] = {
        name: resemble_votes(catalog, rows, pool, setups, max_n, packed=packed, progress=False, threads=threads).votes
        for name, pool in pools.items()
    }
    return out


def run_published(
    catalog: Catalog,
    rows: np.ndarray,
    train: np.ndarray,
    setups: dict[int, np.ndarray],
    pools: dict[str, np.ndarray],
    max_n: int,
    seed: int,
) -> dict[str, Any]:
    """All baselines with the study's algorithm; returns raw predictions."""
    out: dict[str, Any] = {
        "random": {f: {s: published_random(catalog, rows, p, f, seed) for s, p in setups.items()} for f in FORMS}
    }
    out["majority"] = {
        (s, f): np.asarray(published_majority(catalog.answers(f)[np.ix_(train, p)]))
        for f in FORMS
        for s, p in setups.items()
    }
    out["votes"] = {}
    for name, pool in pools.items():
        out["votes"][name] = {}
        for f in FORMS:
            for s, p in setups.items():
                fallback = published_majority(catalog.answers(f)[np.ix_(pool, p)])
                out["votes"][name][(s, f)] = published_resemble(catalog, rows, pool, p, f, max_n, fallback)
    return out


def accuracies(
    catalog: Catalog, rows: np.ndarray, setups: dict[int, np.ndarray], res: dict[str, Any], max_n: int
) -> dict[str, float]:
    """Flat accuracies: majority and every (pool, N, setup, form) of the votes."""
    acc: dict[str, float] = {}
    maj = Predictions.concat(
        [Predictions.from_matrix(catalog, rows, s, f, setups[s], m[None, :]) for (s, f), m in res["majority"].items()]
    )
    for f in FORMS:
        for s, v in zip(setups, table_rows(maj, list(setups))[f]):
            acc[f"majority/{f}/p{s}"] = v
    for pool, votes in res["votes"].items():
        for n in range(1, max_n + 1):
            preds = Predictions.concat(
                [Predictions.from_matrix(catalog, rows, s, f, setups[s], v[n - 1]) for (s, f), v in votes.items()]
            )
            row = table_rows(preds, list(setups))
            for f in FORMS:
                for s, val in zip(setups, row[f]):
                    acc[f"resemble/{pool}/n{n}/{f}/p{s}"] = val
    return acc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.baselines", description=__doc__.split("\n")[0])
    p.add_argument("--people", type=int, default=93279, help="catalog size (default 93279)")
    p.add_argument("--eval", type=int, default=800, help="evaluation people (default 800)")
    p.add_argument("--max-n", type=int, default=35)
    p.add_argument("--pool", type=int, default=1600, help="size of the small pool (default 1600)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3, help="timed runs of ours (the median is reported)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for both implementations (torch; our search); default: torch's / all cores",
    )
    args = p.parse_args(argv)
    if args.threads is not None:
        set_threads(args.threads)

    t0 = time.perf_counter()
    catalog, source = build_catalog(args.people, args.seed)
    all_setups = probe_setups(catalog.codebook)
    try:
        split = choose_split(catalog, all_setups, size=args.eval, seed=args.seed, rule="study")
    except ValueError:  # catalogs without the study's demographics
        split = choose_split(catalog, all_setups, size=args.eval, seed=args.seed, rule="stratified")
    rows, train = split.eval_rows, split.train_rows
    setups = dict(enumerate(all_setups))
    pools = {str(args.pool): sample_pool(train, args.pool, args.seed), "all": sample_pool(train, None, args.seed)}
    print(f"threads: {args.threads or 'default (torch: its own; ours: all cores)'}")
    print(
        f"catalog: {len(catalog)} people ({source}, {time.perf_counter() - t0:.1f} s); eval {len(rows)}, "
        f"pools {', '.join(f'{k}={len(v)}' for k, v in pools.items())}; N = 1..{args.max_n}"
    )

    walls, cpus = [], []
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        ours = run_ours(catalog, rows, train, setups, pools, args.max_n, args.seed, args.threads)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    t_ours, c_ours = float(np.median(walls)), float(np.median(cpus))
    print(
        f"ours (FAISS binary index + vectorised votes): {t_ours:.2f} s wall, {c_ours:.2f} s CPU "
        f"(median of {args.repeat}: {', '.join(f'{w:.2f}' for w in walls)} s wall)"
    )
    t, c = time.perf_counter(), time.process_time()
    theirs = run_published(catalog, rows, train, setups, pools, args.max_n, args.seed)
    t_pub, c_pub = time.perf_counter() - t, time.process_time() - c
    print(f"published algorithm (dense matmul + argsort + Python votes): {t_pub:.2f} s wall, {c_pub:.2f} s CPU")
    speedup = t_pub / t_ours
    print(f"speed-up: {speedup:.1f}x wall, {c_pub / c_ours:.1f}x CPU time (target >= {TARGET_SPEEDUP:.0f}x)")

    a, b = accuracies(catalog, rows, setups, ours, args.max_n), accuracies(catalog, rows, setups, theirs, args.max_n)
    diffs = {k: abs(a[k] - b[k]) for k in a}
    worst = max(diffs, key=diffs.get)
    rand = max(abs(ours["random"][f][s] - theirs["random"][f][s]) for f in FORMS for s in setups)
    print(
        f"accuracy agreement: max |ours - published| = {diffs[worst]:.3f} points over {len(diffs)} figures "
        f"(worst {worst}); mean {np.mean(list(diffs.values())):.4f}; random expectation vs 500 draws: {rand:.3f}"
    )
    ok = diffs[worst] <= TOLERANCE and speedup >= TARGET_SPEEDUP
    print("PASS" if ok else "FAIL", f"(tolerance {TOLERANCE} points, target {TARGET_SPEEDUP:.0f}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
