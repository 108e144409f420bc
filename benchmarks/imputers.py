"""Benchmark of the classical imputers (not a test): ``python -m benchmarks.imputers [--methods [gbt, irt, lc]]``.

Runs each classical imputer alone through the one evaluation path on the calibration report's people
(``python -m baselines.calibrate``: the synthetic population of ``--people`` people, the study's
800-person split, three probe setups, 200 shown demonstrations, matched view) and prints per method its
CPU-seconds (fit, predict; this process, every thread) and "all" / polar / refined, then the methods'
total in CPU-minutes. Each imputer's settings are flags of their own (``--gbt.max_iter 30``,
``--irt.rank 6``, ``--lc.n_classes 256``), so a lever's accuracy cost is one command per setting.
``--threads`` sets torch's intra-op threads (the report runs with the default).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

PROG = "python -m benchmarks.imputers"
METHODS = ("gbt", "irt", "lc")


def _survey_examples(name: str, work: Path, seed: int) -> tuple[Any, Any]:
    """A real survey's test people and training pool under its protocol (the fit's table: ivr.fit's defaults)."""
    from ivr.bench_real import SURVEYS, prepare
    from ivr.errors import ConfigError
    from ivr.predict import prepare as prepare_examples
    from ivr.settings import DataSettings

    if name not in SURVEYS:
        raise ConfigError(f"--survey {name!r}: use one of {sorted(SURVEYS)}")
    info = prepare(name, work / name)
    data = DataSettings(catalog=info["catalog"], seed=seed)
    cat = data.open_catalog()
    split = data.split(cat)
    return prepare_examples(
        cat, split.test_rows, split.train_rows, data.chosen_setups(cat), data.protocol(cat).eval_demo_count, seed
    ), split


def main(argv: list[str] | None = None) -> int:
    """Print one line per imputer and the total; bad input raises an IvrError."""
    import numpy as np
    import torch

    from baselines.gbt import GradientBoosting
    from baselines.latent_trait import LatentTrait
    from baselines.predictors import LatentClass
    from ivr.catalog.resolve import resolve_catalog
    from ivr.catalog.store import load_catalog
    from ivr.cli import make_parser
    from ivr.errors import ConfigError
    from ivr.evaluate import IMPUTER_LATENT_CLASSES
    from ivr.predict import prepare, run_predictors
    from ivr.protocol.probes import probe_setups
    from ivr.protocol.splits import make_split

    parser = make_parser(PROG, "CPU-seconds and accuracy of each classical imputer on the calibration people.")
    parser.add_argument("--people", type=int, default=93279, help="synthetic population size")
    parser.add_argument("--seed", type=int, default=0, help="generator and protocol seed")
    parser.add_argument("--cache_dir", type=str | None, default=None, help="synthetic catalog cache")
    parser.add_argument(
        "--survey",
        type=str | None,
        default=None,
        help="a real survey of the suite (bfi, epi, kakadu, msq) instead of the synthetic population: "
        "its test people under its own protocol, as ivr.fit's table scores them",
    )
    parser.add_argument("--work_dir", type=str, default="runs/bench_imputers", help="where a survey's catalog is built")
    parser.add_argument("--methods", type=list[str], default=list(METHODS), help=f"imputers to run, of {METHODS}")
    parser.add_argument("--threads", type=int | None, default=None, help="torch intra-op threads (None = default)")
    parser.add_class_arguments(GradientBoosting, "gbt", help="gradient-boosted trees' settings")
    parser.add_class_arguments(LatentTrait, "irt", help="latent-trait model's settings")
    parser.add_class_arguments(LatentClass, "lc", help="latent classes' settings", skip={"progress"})
    parser.set_defaults({"lc.n_classes": 0})  # 0: the tables' own (512 synthetic, IMPUTER_LATENT_CLASSES a survey)
    cfg = parser.parse_args(sys.argv[1:] if argv is None else argv)
    bad = [m for m in cfg.methods if m not in METHODS]
    if bad:
        raise ConfigError(f"--methods {bad}: use some of {list(METHODS)}")
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    if cfg.survey is None:
        catalog = load_catalog(resolve_catalog(f"synthetic:people={cfg.people},seed={cfg.seed}", cfg.cache_dir))
        split = make_split(catalog, size=800, seed=cfg.seed, rule="study")
        setups = dict(enumerate(probe_setups(catalog.codebook)))
        examples = prepare(catalog, split.eval_rows, split.train_rows, setups, "200", cfg.seed, people="evaluation")
    else:
        examples, split = _survey_examples(cfg.survey, Path(cfg.work_dir), cfg.seed)
    lc = cfg.lc.as_dict()
    default_classes = 512 if cfg.survey is None else IMPUTER_LATENT_CLASSES
    build = {
        "gbt": lambda: GradientBoosting(**cfg.gbt.as_dict()),
        "irt": lambda: LatentTrait(**cfg.irt.as_dict()),
        "lc": lambda: LatentClass(**{**lc, "n_classes": lc["n_classes"] or default_classes}),
    }
    total = 0.0
    print(
        f"{cfg.survey or 'synthetic'}: n = {examples.n_people} people, {len(split.train_rows)} training people, torch threads "
        f"{torch.get_num_threads()}"
    )
    print("| method | settings | fit CPU s | predict CPU s | CPU s | all | polar | refined | wall s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for m in cfg.methods:
        pred = build[m]()
        wall = time.perf_counter()
        row = next(iter(run_predictors([pred], examples).values()))
        wall = time.perf_counter() - wall
        t3 = row.report.table3_row()
        total += row.cpu_seconds
        settings = pred.describe() or {"n_classes": pred.n_classes}
        print(
            f"| {pred.name} | {settings} | {row.fit_cpu_s:.1f} | {row.predict_cpu_s:.1f} | {row.cpu_seconds:.1f} "
            f"| {t3['all']:.2f} | {t3['polar_avg']:.2f} | {t3['refined_avg']:.2f} | {wall:.1f} |",
            flush=True,
        )
    print(f"together: {total / 60:.2f} CPU-minutes ({float(np.round(total, 1))} CPU-s)")
    return 0


if __name__ == "__main__":
    from ivr.cli import entry_point

    entry_point(main)
