"""Check a synthetic population against the published baselines, with its exact Bayes ceiling.

Usage::

    python -m ivr.catalog.synth.calibrate --people 93279 --seed 0 [--set loading=1.8 ...] [--out table.md]

A compact, vectorised re-statement of the study's protocol (not the project's baselines package):
800 evaluation people valid on every probe question with >= 239 valid answers; setup ``s`` probes, per
category, the questions at positions ``(3s + j) mod n`` (j = 0..2, codebook order); everyone else is
training data. Global majority votes over valid training answers; Resemble counts agreements over the
setup's non-probe questions (a missing answer matches nothing) and votes over the valid probe answers
of the top-N neighbours (top-1 = N=1: a missing neighbour answer counts wrong). The Bayes ceiling is
the exact posterior given 200 random valid non-probe answers. Accuracy is per person, then averaged.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ivr.catalog.codebook import Codebook
from ivr.catalog.store import Catalog
from ivr.catalog.synth.model import SynthModel, SynthSettings
from ivr.catalog.synth.population import synthesize

# Published figures (../shared/paper/results.json: table3_methods, table20, table4), polar / refined.
PUBLISHED = {
    "Global majority": (64.95, 48.70),
    "Resemble (all, top 1)": (69.83, 53.51),
    "Resemble (all, top cluster N=24)": (73.73, 59.47),
    "Resemble (1600, top cluster N=24)": (70.39, 54.36),
}
PUBLISHED_SWEEP_ALL = {1: 61.17, 2: 61.14, 4: 64.16, 8: 65.79, 12: 66.21, 16: 66.35, 20: 66.54, 24: 66.6,
                       32: 66.52}
SWEEP = (1, 2, 4, 8, 12, 16, 20, 24, 32)
TAG_EVAL, TAG_DEMOS, TAG_POOL = 10, 11, 12


def probe_setups(codebook: Codebook, n_setups: int = 3, per_category: int = 3) -> list[np.ndarray]:
    """Question indices per setup: per category, positions (3s+j) mod n in codebook order."""
    by_cat = {c: [i for i, q in enumerate(codebook.questions) if q.category == c] for c in codebook.categories}
    return [np.array([qs[(per_category * s + j) % len(qs)] for qs in by_cat.values() if qs
                      for j in range(per_category)]) for s in range(n_setups)]


def onehot(answers: np.ndarray, n_opt: int) -> torch.Tensor:
    """float32 [P, Q*n_opt] one-hot of option indices (all-zero block where missing)."""
    p, q = answers.shape
    out = torch.zeros(p, q * n_opt)
    a = torch.from_numpy(answers.astype(np.int64))
    rows, cols = torch.nonzero(a >= 0, as_tuple=True)
    out[rows, cols * n_opt + a[rows, cols]] = 1.0
    return out


def vote(labels: np.ndarray, n_opt: int) -> np.ndarray:
    """Majority option over axis 1 of ``labels`` [N, n, M] (missing ignored; -1 when none valid)."""
    counts = np.stack([(labels == o).sum(axis=1) for o in range(n_opt)], axis=-1)
    return np.where(counts.max(axis=-1) > 0, counts.argmax(axis=-1), -1)


def accuracy(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean over people of the per-person share of probes predicted right (percent)."""
    return float(100 * (pred == target).mean(axis=1).mean())


def evaluate(catalog: Catalog, model: SynthModel, seed: int, n_eval: int = 800, n_demos: int = 200,
             pool: int = 1600, max_n: int = 32) -> dict[str, dict[str, list[float]]]:
    """All baselines and the Bayes ceiling: name -> form -> accuracy per setup."""
    cb = catalog.codebook
    setups = probe_setups(cb)
    probes_all = np.unique(np.concatenate(setups))
    ok = (catalog.refined[:, probes_all] >= 0).all(axis=1) & (catalog.n_valid >= 239)
    eval_rows = np.sort(np.random.default_rng([seed, TAG_EVAL]).choice(np.flatnonzero(ok), n_eval, replace=False))
    train = np.setdiff1d(np.arange(len(catalog)), eval_rows)
    pool_rows = np.sort(np.random.default_rng([seed, TAG_POOL]).choice(train, pool, replace=False))
    res: dict[str, dict[str, list[float]]] = {}

    def put(name: str, form: str, value: float) -> None:
        res.setdefault(name, {}).setdefault(form, []).append(value)

    for s, probes in enumerate(tqdm(setups, desc="probe setups", unit="setup")):
        features = np.setdiff1d(np.arange(len(cb.questions)), probes)
        demos = []
        for r in eval_rows:  # 200 random valid non-probe answers per person
            valid = features[catalog.refined[r, features] >= 0]
            rng = np.random.default_rng([seed, TAG_DEMOS, int(r), s])
            demos.append(rng.choice(valid, min(n_demos, len(valid)), replace=False))
        every = [features[catalog.refined[r, features] >= 0] for r in eval_rows]
        post = {
            "Bayes (200 demos)": model.log_posterior(catalog, eval_rows, demos),
            "Bayes (all non-probe)": model.log_posterior(catalog, eval_rows, every),
            "Bayes (demographics only)": model.log_posterior(
                catalog, eval_rows, [np.zeros(0, np.int64)] * len(eval_rows), use_demographics=True),
        }
        for form in ("polar", "refined"):
            ans = catalog.answers(form)
            n_opt = max(cb.n_options(form))
            target = ans[eval_rows][:, probes]
            train_ans = ans[train][:, probes]
            majority = vote(train_ans[None], n_opt)[0]
            put("Global majority", form, accuracy(np.broadcast_to(majority, target.shape), target))
            x_eval = onehot(ans[eval_rows][:, features], n_opt)
            for name, rows in (("all", train), ("1600", pool_rows)):
                sim = torch.cat([x_eval @ onehot(ans[rows[i:i + 16384]][:, features], n_opt).T
                                 for i in range(0, len(rows), 16384)], dim=1)
                top = torch.topk(sim, max_n, dim=1).indices.numpy()
                labels = ans[rows][:, probes][top]  # [E, max_n, M]
                for n in SWEEP:
                    put(f"Resemble ({name}, N={n})", form, accuracy(vote(labels[:, :n], n_opt), target))
            probs = model.option_probs(form)[:, probes]
            for name, lp in post.items():
                w = np.exp(lp - lp.max(axis=1, keepdims=True))
                pred = np.einsum("nk,kmo->nmo", w / w.sum(axis=1, keepdims=True), probs).argmax(axis=2)
                put(name, form, accuracy(pred, target))
    return res


def evenness(catalog: Catalog) -> dict[str, float]:
    """Mean Shannon evenness (entropy / log options) of refined answers per continent."""
    cont = catalog.demographic_values(catalog.codebook.roles["continent"])
    n_opt = catalog.codebook.n_options("refined")
    out = {}
    for c in sorted(set(cont[cont != None])):  # noqa: E711 - object array comparison
        ans = catalog.refined[cont == c]
        ev = []
        for j, k in enumerate(n_opt):
            counts = np.bincount(ans[ans[:, j] >= 0, j], minlength=k).astype(float)
            p = counts[counts > 0] / counts.sum()
            ev.append(-(p * np.log(p)).sum() / np.log(k))
        out[c] = float(np.mean(ev))
    return out


def table(res: dict[str, dict[str, list[float]]], catalog: Catalog, seconds: float) -> str:
    """The README table: published / synthetic (polar, refined averages) and the Bayes ceilings."""
    avg = {k: (np.mean(v["polar"]), np.mean(v["refined"])) for k, v in res.items()}
    rows = {"Global majority": "Global majority", "Resemble (all, top 1)": "Resemble (all, N=1)",
            "Resemble (all, top cluster N=24)": "Resemble (all, N=24)",
            "Resemble (1600, top cluster N=24)": "Resemble (1600, N=24)"}
    lines = ["| method | published polar | synthetic polar | published refined | synthetic refined |",
             "|---|---|---|---|---|"]
    for label, key in rows.items():
        (pp, pr), (sp, sr) = PUBLISHED[label], avg[key]
        lines.append(f"| {label} | {pp:.2f} | {sp:.2f} ({sp - pp:+.2f}) | {pr:.2f} | {sr:.2f} ({sr - pr:+.2f}) |")
    for key in ("Bayes (200 demos)", "Bayes (all non-probe)", "Bayes (demographics only)"):
        sp, sr = avg[key]
        lines.append(f"| {key} | – | {sp:.2f} | – | {sr:.2f} |")
    best = max(avg[k][0] for k in avg if k.startswith(("Resemble", "Global")))
    best_r = max(avg[k][1] for k in avg if k.startswith(("Resemble", "Global")))
    b = avg["Bayes (200 demos)"]
    lines += ["", f"Bayes (200 demos) minus best baseline: polar {b[0] - best:+.2f}, refined {b[1] - best_r:+.2f}."]
    lines += ["", "Resemble (all) N-sweep, 'all' = mean of polar and refined averages:", "",
              "| N | " + " | ".join(map(str, SWEEP)) + " |", "|---" * (len(SWEEP) + 1) + "|",
              "| published | " + " | ".join(f"{PUBLISHED_SWEEP_ALL[n]:.2f}" for n in SWEEP) + " |",
              "| synthetic | " + " | ".join(f"{np.mean(avg[f'Resemble (all, N={n})']):.2f}" for n in SWEEP) + " |"]
    ev = evenness(catalog)
    lines += ["", "Mean Shannon evenness of refined answers by continent (lower = less even): "
              + ", ".join(f"{k} {v:.3f}" for k, v in sorted(ev.items(), key=lambda kv: kv[1])) + "."]
    nv = catalog.n_valid
    lines += ["", f"Valid answers per person: mean {nv.mean():.1f} (published 242.03), std {nv.std():.1f} "
              f"(17.31), all answered {100 * (nv == nv.max()).mean():.1f}% (17.0%). "
              f"Generation took {seconds:.1f} s."]
    return "\n".join(lines)


def parse_overrides(items: list[str]) -> SynthSettings:
    """``key=value`` overrides of :class:`SynthSettings`."""
    fields = {f.name: f.type for f in dataclasses.fields(SynthSettings)}
    kwargs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in fields:
            raise SystemExit(f"--set {item!r}: expected key=value with key in {sorted(fields)}")
        kwargs[key] = int(value) if fields[key] in (int, "int") else float(value)
    return SynthSettings(**kwargs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=93279)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval", type=int, default=800)
    parser.add_argument("--set", nargs="*", default=[], help="generator overrides key=value")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)
    t0 = time.time()
    catalog, model = synthesize(args.people, args.seed, settings=parse_overrides(args.set))
    seconds = time.time() - t0
    res = evaluate(catalog, model, args.seed, n_eval=args.eval)
    text = table(res, catalog, seconds)
    print(text)
    print(f"(evaluation took {time.time() - t0 - seconds:.0f} s)", file=sys.stderr)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
