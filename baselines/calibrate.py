"""Calibration report of the synthetic population against the study's published baselines.

``python -m baselines.calibrate --people 93279 --seed 0 [--settings.KEY VALUE ...] [--out FILE.md]``

Builds (or reuses) the synthetic catalog, runs every Table-3 baseline through the same protocol as
``python -m baselines`` (the study's 800-person split, the three probe setups, FAISS Resemble), the
exact Bayes-optimal predictor of the population (:mod:`ivr.predict.bayes`: 200 demonstrations drawn
by the protocol's sampler outside the setup's probes, and demographics only), the profile oracle
(:func:`baselines.latent_class.profile_oracle_model`: the ceiling's profiles with their probabilities
counted from the training people), the Resemble N sweep
against Table 20, answer evenness per continent and the Table 1 answer counts, and prints the
side-by-side table published / synthetic / Bayes ceiling. Every row follows one evaluation
convention, named in the header: ``matched`` (polar probes with polar demonstrations, refined with
refined; Resemble compares people in that form).
``--settings.KEY VALUE`` changes generator knobs (:class:`ivr.catalog.synth.SynthSettings`) for
tuning; the build then goes to a temporary folder instead of the cache. ``--out`` writes the report
to a new file or over an earlier report (never over another file).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from baselines.predictors import ProfileOracle
from baselines.run import GLOBAL, BaselineConfig, convention, resemble_name, run_baselines
from ivr.catalog.resolve import resolve_catalog
from ivr.catalog.store import Catalog, load_catalog
from ivr.catalog.synth import SynthModel, SynthSettings, build_synthetic
from ivr.metrics import evaluate_predictions
from ivr.metrics.evenness import option_counts, shannon_evenness
from ivr.paper import load_paper
from ivr.predict.bayes import CEILING, PROFILE_ORACLE, BayesCeiling, bayes_predictions
from ivr.protocol.probes import probe_setups
from ivr.protocol.splits import make_split

TARGETS = [
    GLOBAL,
    resemble_name("all", "top 1"),
    resemble_name("all", "top cluster"),
    resemble_name("1600", "top cluster"),
]


def evenness_by_continent(catalog: Catalog, form: str = "refined") -> dict[str, float]:
    """Mean Shannon evenness J' over questions, per continent (lower = less even)."""
    cont = catalog.groups("Continent")
    n_opt = np.asarray(catalog.codebook.n_options(form))
    out = {}
    for c in sorted({v for v in cont if v is not None}):
        counts = option_counts(catalog.answers(form)[cont == c], int(n_opt.max()))
        out[c] = float(np.nanmean(shannon_evenness(counts, n_opt)))
    return out


def _fmt_row(label: str, paper: dict | None, ours: dict, cpu: float | None = None) -> str:
    cells = []
    for key in ("polar_avg", "refined_avg", "all"):
        if paper is None:
            cells += ["–", f"{ours[key]:.2f}"]
        else:
            cells += [f"{paper[key]:.2f}", f"{ours[key]:.2f} ({ours[key] - paper[key]:+.2f})"]
    return f"| {label} | " + " | ".join(cells) + f" | {'–' if cpu is None else f'{cpu:.1f}'} |"


def report(catalog: Catalog, model: SynthModel, seed: int = 0, latent_classes: int = 512) -> str:
    """The markdown calibration report for one synthetic catalog.

    Every row but the demographics-only Bayes row is a predictor of the one evaluation path, scored on the
    study's 800 evaluation people with 200 shown demonstrations; the classical imputers (gradient-boosted
    trees, latent traits and ``latent_classes`` latent classes; 0 = none) are listed with their CPU-seconds.
    """
    paper = load_paper()
    split = make_split(catalog, size=800, seed=seed, rule="study")
    config = BaselineConfig(
        seed=seed, bootstrap=0, eval_forms="matched", imputers=True, latent_classes=latent_classes, progress=False
    )
    results = run_baselines(catalog, split, config, extra=[BayesCeiling(model), ProfileOracle(model)])
    setups = dict(enumerate(probe_setups(catalog.codebook)))
    forms = ["polar", "refined"]
    demo_only = evaluate_predictions(
        bayes_predictions(catalog, model, split.eval_rows, setups, forms, 0, seed, use_demographics=True),
        catalog,
        bootstrap=0,
    )
    lines = [
        convention(config, max(len(p) for p in setups.values())),
        f"n = {len(split.eval_rows)} people (the study's evaluation people); CPU-seconds: fit + predict, this process",
        "",
        "| method | paper polar | synthetic polar | paper refined | synthetic refined | paper all | synthetic all "
        "| CPU s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in TARGETS:
        lines.append(
            _fmt_row(name, paper["table3_methods"][name], results.rows[name], results.cpu[name]["cpu_seconds"])
        )
    imputers = [
        n
        for n in results.rows
        if n not in TARGETS and n not in (CEILING, PROFILE_ORACLE) and not n.startswith(("Random", "Resemble"))
    ]
    for name in imputers:
        lines.append(_fmt_row(name, None, results.rows[name], results.cpu[name]["cpu_seconds"]))
    ceiling, oracle = results.rows[CEILING], results.rows[PROFILE_ORACLE]
    lines.append(_fmt_row("**Bayes ceiling** (200 demos, matched)", None, ceiling, results.cpu[CEILING]["cpu_seconds"]))
    lines.append(_fmt_row("Bayes, demographics only", None, demo_only.table3_row()))
    lines.append(
        _fmt_row(
            "Profile oracle (true profiles, probabilities counted from training)",
            None,
            oracle,
            results.cpu[PROFILE_ORACLE]["cpu_seconds"],
        )
    )
    keys = ("polar_avg", "refined_avg", "all")
    baselines = [n for n in results.rows if n not in (CEILING, PROFILE_ORACLE)]
    best = {k: max(results.rows[n][k] for n in baselines) for k in keys}
    total = sum(results.cpu[n]["cpu_seconds"] for n in imputers)
    lines += [
        "",
        "Bayes ceiling above the best baseline: "
        + ", ".join(f"{k.replace('_avg', '')} {ceiling[k] - best[k]:+.2f}" for k in best)
        + " points.",
        "Profile oracle under the ceiling (what the training people cannot reveal): "
        + ", ".join(f"{k.replace('_avg', '')} {oracle[k] - ceiling[k]:+.2f}" for k in best)
        + " points.",
        f"The classical imputers together: {total / 60:.2f} CPU-minutes (fit and predict).",
        f"Bayes with demographics only, polar: {demo_only.table3_row()['polar_avg']:.2f} "
        f"(the study's demographics-only trained model: 67.42).",
    ]
    sweep, t20 = results.sweep.get("all", []), paper["table20_resemble_cluster_size"]
    ns = [n for n in t20["N"] if n <= len(sweep)]
    lines += [
        "",
        "Resemble (all) N sweep, 'all' column:",
        "",
        "| N | " + " | ".join(map(str, ns)) + " |",
        "|---" * (len(ns) + 1) + "|",
        "| paper (Table 20) | " + " | ".join(f"{t20['all'][t20['N'].index(n)]:.2f}" for n in ns) + " |",
        "| synthetic | " + " | ".join(f"{sweep[n - 1]['all']:.2f}" for n in ns) + " |",
    ]
    ev = evenness_by_continent(catalog)
    lines += [
        "",
        "Mean Shannon evenness J' of refined answers by continent (lower = less even): "
        + ", ".join(f"{k} {v:.3f}" for k, v in sorted(ev.items(), key=lambda kv: kv[1]))
        + ".",
    ]
    nv = catalog.n_valid
    t1 = paper["table1_dataset"]
    lines += [
        f"Valid answers per person: mean {nv.mean():.2f} (paper {t1['valid_answers_per_person_mean']}), "
        f"std {nv.std():.2f} ({t1['valid_answers_per_person_std']}), every question answered "
        f"{100 * (nv == len(catalog.codebook.questions)).mean():.1f}% "
        f"({100 * t1['people_with_all_questions'] / t1['people']:.1f}%)."
    ]
    return "\n".join(lines)


PROG = "python -m baselines.calibrate"
HEADER = "| method | paper polar | synthetic polar |"


def main(argv: list[str] | None = None) -> int:
    """Print (and with ``--out`` write) the calibration report; bad input raises an IvrError."""
    from ivr.cli import COMMON_ALIASES, Alias, apply_aliases, make_parser
    from ivr.outputs import check_output_file

    aliases = (*COMMON_ALIASES, Alias("--cache-dir", "--cache_dir"))
    argv = apply_aliases(list(sys.argv[1:] if argv is None else argv), aliases, PROG)
    argv = _old_set(argv)
    parser = make_parser(PROG, "Calibration report of the synthetic population.")
    parser.add_argument("--people", type=int, default=93279, help="population size")
    parser.add_argument("--seed", type=int, default=0, help="generator and protocol seed")
    parser.add_class_arguments(SynthSettings, "settings", help="generator knobs (tuning; the default is calibrated)")
    parser.add_argument("--cache_dir", type=str | None, default=None, help="synthetic catalog cache")
    parser.add_argument(
        "--latent_classes",
        type=int,
        default=512,
        help="classes of the latent class row (0 = none; 512: about 5 CPU-minutes on 93K people)",
    )
    parser.add_argument("--out", type=str | None, default=None, help="also write the markdown report here")
    cfg = parser.parse_args(argv)
    if cfg.out:
        check_output_file(cfg.out, lambda p: p.read_text(errors="replace").startswith(HEADER), "a calibration report")
    settings = SynthSettings(**cfg.settings.as_dict())
    with tempfile.TemporaryDirectory() as tmp:
        if settings != SynthSettings():
            folder = build_synthetic(Path(tmp) / "catalog", cfg.people, cfg.seed, settings=settings)
        else:
            folder = resolve_catalog(f"synthetic:people={cfg.people},seed={cfg.seed}", cfg.cache_dir)
        text = report(load_catalog(folder), SynthModel.load(folder), cfg.seed, cfg.latent_classes)
    print(text)
    if cfg.out:
        from ivr.outputs import write_text

        write_text(cfg.out, text + "\n")
    return 0


def _old_set(argv: list[str]) -> list[str]:
    """``--set a=1 b=2`` (the previous release) -> ``--settings.a 1 --settings.b 2``."""
    from ivr.cli import deprecation
    from ivr.errors import ConfigError

    out, i = [], 0
    while i < len(argv):
        if argv[i] != "--set":
            out.append(argv[i])
            i += 1
            continue
        deprecation(PROG, "--set key=value", "--settings.key value")
        i += 1
        while i < len(argv) and not argv[i].startswith("--"):
            key, sep, value = argv[i].partition("=")
            if not sep:
                raise ConfigError(f"--set {argv[i]!r}: expected key=value; write it as --settings.KEY VALUE")
            out += [f"--settings.{key}", value]
            i += 1
    return out


if __name__ == "__main__":
    from ivr.cli import entry_point

    entry_point(main)
